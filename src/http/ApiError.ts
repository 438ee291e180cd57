import { Effect, ErrorReporter, Schema } from "effect"
import { HttpServerRespondable, HttpServerResponse } from "effect/http"

export const FieldError = Schema.Struct({ field: Schema.String, message: Schema.String })
export type FieldError = typeof FieldError.Type

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  errors: Schema.Array(FieldError)
}) {
  [HttpServerRespondable.symbol]() {
    return toResponse(this)
  }
  override readonly [ErrorReporter.ignore] = true
}

export class QueueFull extends Schema.TaggedError<QueueFull>()("QueueFull", {}) {
  [HttpServerRespondable.symbol]() {
    return toResponse(this)
  }
  override readonly [ErrorReporter.ignore] = true
}

export class NotFound
  extends Schema.TaggedError<NotFound>()("NotFound", { method: Schema.String, path: Schema.String })
{
  [HttpServerRespondable.symbol]() {
    return toResponse(this)
  }
  override readonly [ErrorReporter.ignore] = true
}

export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  method: Schema.String,
  path: Schema.String,
  allow: Schema.Array(Schema.String)
}) {
  [HttpServerRespondable.symbol]() {
    return toResponse(this)
  }
  override readonly [ErrorReporter.ignore] = true
}

export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", {
  reason: Schema.String
}) {
  [HttpServerRespondable.symbol]() {
    return toResponse(this)
  }
}

export type ApiError = InvalidRequest | QueueFull | NotFound | MethodNotAllowed | ServiceUnavailable

export const invalid = (field: string, message: string) => new InvalidRequest({ errors: [{ field, message }] })

const json = (status: number, body: unknown, headers?: Record<string, string>) =>
  Effect.succeed(HttpServerResponse.jsonUnsafe(body, headers === undefined ? { status } : { status, headers }))

export const toResponse = (error: ApiError): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  switch (error._tag) {
    case "InvalidRequest":
      return json(400, { error: "invalid_request", errors: error.errors })
    case "QueueFull":
      return json(503, { error: "queue_full" })
    case "NotFound":
      return json(404, {
        error: "not_found",
        errors: [{ field: "path", message: `no route for ${error.method} ${error.path}` }]
      })
    case "MethodNotAllowed":
      return json(405, {
        error: "method_not_allowed",
        errors: [{ field: "method", message: `${error.method} is not allowed on ${error.path}` }]
      }, { allow: error.allow.join(", ") })
    case "ServiceUnavailable":
      return json(503, { error: "unavailable", errors: [{ field: "service", message: error.reason }] })
  }
}

import { Effect, ErrorReporter, Schema } from "effect"
import { HttpServerRespondable, HttpServerResponse } from "effect/http"

export const FieldError = Schema.Struct({ field: Schema.String, message: Schema.String })
export type FieldError = typeof FieldError.Type

/** What a route may fail with: an error that knows the JSON response it answers with. */
export type ApiError = HttpServerRespondable.Respondable

/** An error response: a JSON body with the given status. */
export const errorResponse = (
  status: number,
  body: { readonly error: string; readonly errors?: ReadonlyArray<FieldError> },
  headers?: Record<string, string>
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.succeed(HttpServerResponse.jsonUnsafe(body, headers === undefined ? { status } : { status, headers }))

/** 503 `unavailable`, saying why. */
export const unavailableResponse = (reason: string) =>
  errorResponse(503, { error: "unavailable", errors: [{ field: "service", message: reason }] })

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  errors: Schema.Array(FieldError)
}) {
  [HttpServerRespondable.symbol]() {
    return errorResponse(400, { error: "invalid_request", errors: this.errors })
  }
  override readonly [ErrorReporter.ignore] = true
}

export class NotFound
  extends Schema.TaggedError<NotFound>()("NotFound", { method: Schema.String, path: Schema.String })
{
  [HttpServerRespondable.symbol]() {
    return errorResponse(404, {
      error: "not_found",
      errors: [{ field: "path", message: `no route for ${this.method} ${this.path}` }]
    })
  }
  override readonly [ErrorReporter.ignore] = true
}

export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", {
  method: Schema.String,
  path: Schema.String,
  allow: Schema.Array(Schema.String)
}) {
  [HttpServerRespondable.symbol]() {
    return errorResponse(405, {
      error: "method_not_allowed",
      errors: [{ field: "method", message: `${this.method} is not allowed on ${this.path}` }]
    }, { allow: this.allow.join(", ") })
  }
  override readonly [ErrorReporter.ignore] = true
}

/** A dependency of the route (the database, the payments store) cannot serve it now. */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", {
  reason: Schema.String
}) {
  [HttpServerRespondable.symbol]() {
    return unavailableResponse(this.reason)
  }
}

export const invalid = (field: string, message: string) => new InvalidRequest({ errors: [{ field, message }] })

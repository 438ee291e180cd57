import { ByteSize, Effect, Result, Schema, SchemaIssue } from "effect"
import { HttpIncomingMessage, HttpServerRequest } from "effect/http"
import { type FieldError, invalid, InvalidRequest } from "./ApiError.ts"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const utf8 = new TextDecoder("utf-8", { fatal: true })

const isJson = (contentType: string | undefined) => {
  if (contentType === undefined) return false
  const mediaType = contentType.split(";", 1)[0].trim().toLowerCase()
  return mediaType === "application/json" || (mediaType.startsWith("application/") && mediaType.endsWith("+json"))
}

/** Every problem Schema found, as `{field, message}` pairs; the field is the dotted path ("body" for the root). */
export const fieldErrors = (issue: SchemaIssue.Issue, root = "body"): ReadonlyArray<FieldError> =>
  formatter(issue).issues.map((i) => ({
    field: i.path !== undefined && i.path.length > 0 ? i.path.map(String).join(".") : root,
    message: i.message
  }))

export const decodeOrInvalid = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  root?: string
) => {
  const decode = Schema.decodeUnknownResult(schema, { errors: "all", onExcessProperty: "ignore" })
  return (input: unknown): Effect.Effect<S["Type"], InvalidRequest> => {
    const result = decode(input)
    return Result.isSuccess(result)
      ? Effect.succeed(result.success)
      : Effect.fail(new InvalidRequest({ errors: fieldErrors(result.failure.issue, root) }))
  }
}

/**
 * Reads the current request's body as JSON: a JSON content type, at most `limit` bytes, well-formed.
 * Anything else is an InvalidRequest naming what was wrong.
 */
export const readJson = (limit: number): Effect.Effect<unknown, InvalidRequest, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (!isJson(request.headers["content-type"])) {
      return yield* invalid("content-type", "expected application/json")
    }
    const declared = Number(request.headers["content-length"] ?? 0)
    if (declared > limit) return yield* invalid("body", `body larger than ${limit} bytes`)
    const bytes = yield* request.arrayBuffer.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(limit)),
      Effect.mapError((error) =>
        error.reason._tag === "RequestParseError" && error.reason.reason === "BodyTooLarge"
          ? invalid("body", `body larger than ${limit} bytes`)
          : invalid("body", "could not read the body")
      )
    )
    const text = yield* Effect.try({
      try: () => utf8.decode(bytes),
      catch: () => invalid("body", "not valid UTF-8")
    })
    return yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: () => invalid("body", "malformed JSON")
    })
  })

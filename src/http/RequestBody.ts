import { parse as parseContentType } from "content-type"
import { ByteSize, Effect, Option, Result, Schema, SchemaIssue } from "effect"
import { HttpIncomingMessage, HttpServerRequest } from "effect/http"
import { compareNumber } from "lossless-json"
import { type FieldError, invalid, InvalidRequest } from "./ApiError.ts"
import { type IncomingMessage, nodeRequest, requestHeader } from "./NodeHttp.ts"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const isJsonMediaType = (type: string) =>
  type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"))

const noProblems: ReadonlyArray<FieldError> = []

const codings = (header: string | undefined) =>
  header === undefined ? [] : header.split(",").map((coding) => coding.trim().toLowerCase())

/** What is wrong with the headers describing a JSON body, as `{field, message}` pairs. */
export const headerProblems = (header: (name: string) => string | undefined): ReadonlyArray<FieldError> => {
  const contentType = header("content-type")
  const contentEncoding = header("content-encoding")
  const transferEncoding = header("transfer-encoding")
  // what every well-behaved client sends: nothing to parse
  if (contentType === "application/json" && contentEncoding === undefined && transferEncoding === undefined) {
    return noProblems
  }
  const problems: Array<FieldError> = []
  const { parameters, type } = parseContentType(contentType ?? "")
  const charset: string | undefined = parameters.charset?.toLowerCase()
  if (contentType === undefined || !isJsonMediaType(type)) {
    problems.push({ field: "content-type", message: "expected application/json" })
  } else if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
    problems.push({ field: "content-type", message: "expected charset utf-8" })
  }
  if (codings(contentEncoding).some((coding) => coding !== "identity")) {
    problems.push({ field: "content-encoding", message: "expected no content coding" })
  }
  if (codings(transferEncoding).some((coding) => coding !== "chunked")) {
    problems.push({ field: "transfer-encoding", message: "expected no transfer coding but chunked" })
  }
  return problems
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

/** Why `JSON.parse` cannot give back the number a literal denotes, if it cannot. */
const numberLoss = (literal: string): string | undefined => {
  const value = Number(literal)
  if (!Number.isFinite(value)) return "is too large for a number"
  if (String(value) === literal || compareNumber(String(value), literal) === 0) {
    return undefined
  }
  return value === 0 ? "is too small for a number and would become 0" : "has more digits than a number holds"
}

interface Frame {
  /** The keys seen so far in an object; undefined in an array. */
  readonly keys: Set<string> | undefined
  key: string
  index: number
  expectsKey: boolean
}

const charCode = (char: string) => char.charCodeAt(0)
const QUOTE = charCode("\"")
const BACKSLASH = charCode("\\")
const COMMA = charCode(",")
const MINUS = charCode("-")
const ZERO = charCode("0")
const NINE = charCode("9")
const OPEN_OBJECT = charCode("{")
const CLOSE_OBJECT = charCode("}")
const OPEN_ARRAY = charCode("[")
const CLOSE_ARRAY = charCode("]")
const isNumberStart = (c: number) => c === MINUS || (c >= ZERO && c <= NINE)
const numberLiteral = /[-+.eE0-9]+/y
const LOWER_E = charCode("e")
const UPPER_E = charCode("E")
// at most 15 characters and no exponent: at most 15 significant digits (a double keeps 15) between 1e-14 and 1e15
const exactLiteralLength = 15
const hasExponent = (text: string, start: number, end: number) => {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === LOWER_E || c === UPPER_E) return true
  }
  return false
}

/**
 * What `JSON.parse` silently loses in `text`, which must be JSON it accepted: a key given twice in one object
 * (it keeps the last) and a number a double cannot hold (it rounds). Fields are dotted paths, `root` for the root.
 */
export const lossyParts = (text: string, root = "body"): ReadonlyArray<FieldError> => {
  const problems: Array<FieldError> = []
  const frames: Array<Frame> = []
  const path = () =>
    frames.length === 0 ? root : frames.map((f) => f.keys === undefined ? String(f.index) : f.key).join(".")
  let i = 0
  while (i < text.length) {
    const c = text.charCodeAt(i)
    const top = frames.at(-1)
    if (c === QUOTE) {
      const start = i++
      let escaped = false
      while (i < text.length && text.charCodeAt(i) !== QUOTE) {
        if (text.charCodeAt(i) === BACKSLASH) {
          escaped = true
          i++
        }
        i++
      }
      i++
      if (top?.keys !== undefined && top.expectsKey) {
        const key = escaped ? JSON.parse(text.slice(start, i)) as string : text.slice(start + 1, i - 1)
        top.key = key
        top.expectsKey = false
        if (top.keys.has(key)) problems.push({ field: path(), message: "given more than once" })
        else top.keys.add(key)
      }
    } else if (isNumberStart(c)) {
      const start = i
      numberLiteral.lastIndex = i
      numberLiteral.test(text)
      i = numberLiteral.lastIndex
      if (i - start <= exactLiteralLength && !hasExponent(text, start, i)) continue
      const literal = text.slice(start, i)
      const loss = numberLoss(literal)
      if (loss !== undefined) {
        const shown = literal.length > 40 ? `${literal.slice(0, 40)}…` : literal
        problems.push({ field: path(), message: `${shown} ${loss}` })
      }
    } else {
      if (c === OPEN_OBJECT) frames.push({ keys: new Set(), key: "", index: 0, expectsKey: true })
      else if (c === OPEN_ARRAY) frames.push({ keys: undefined, key: "", index: 0, expectsKey: false })
      else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) frames.pop()
      else if (c === COMMA && top !== undefined) {
        if (top.keys === undefined) top.index++
        else top.expectsKey = true
      }
      i++
    }
  }
  if (problems.length === 0) return noProblems
  return [...new Map(problems.map((p) => [`${p.field}\n${p.message}`, p])).values()]
}

/**
 * A Node request's body, read from its stream with three listeners: the platform's generic reader runs a fiber and
 * a cache per request, a cost every payment would pay. A body over `limit` bytes is drained and refused.
 */
const readNodeBody = (source: IncomingMessage, limit: number) =>
  Effect.callback<Uint8Array, InvalidRequest>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const detach = () => source.off("data", onData).off("end", onEnd).off("error", onClose).off("close", onClose)
    const done = (result: Effect.Effect<Uint8Array, InvalidRequest>) => {
      detach()
      resume(result)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) return void chunks.push(chunk)
      done(Effect.fail(invalid("body", `body larger than ${limit} bytes`)))
      source.resume()
    }
    const onEnd = () => done(Effect.succeed(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)))
    const onClose = () => done(Effect.fail(invalid("body", "could not read the body")))
    source.on("data", onData).on("end", onEnd).on("error", onClose).on("close", onClose)
    return Effect.sync(detach)
  })

/**
 * Reads the current request's body as JSON: a JSON content type (UTF-8 if it names a charset), no content coding
 * and no transfer coding but chunked, at most `limit` bytes, valid UTF-8 without a byte order mark, well-formed,
 * with no key given twice in an object and no number a double cannot hold. Anything else is an InvalidRequest
 * naming every problem of the first of these steps that found one.
 */
export const readJson = (limit: number): Effect.Effect<unknown, InvalidRequest, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const header = (name: string) => requestHeader(request, name)
    const headers = headerProblems(header)
    if (headers.length > 0) return yield* new InvalidRequest({ errors: headers })
    const declared = Number(header("content-length") ?? 0)
    if (declared > limit) return yield* invalid("body", `body larger than ${limit} bytes`)
    const source = nodeRequest(request)
    const bytes = yield* source !== undefined && header("expect") === undefined
      ? readNodeBody(source, limit)
      : request.arrayBuffer.pipe(
        Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(limit)),
        Effect.mapError((error) =>
          error.reason._tag === "RequestParseError" && error.reason.reason === "BodyTooLarge"
            ? invalid("body", `body larger than ${limit} bytes`)
            : invalid("body", "could not read the body")
        )
      )
    return yield* parseBody(bytes)
  })

/** Bytes to JSON, in one step: UTF-8 without a byte order mark, well-formed, and nothing `JSON.parse` lost. */
const parseBody = (bytes: ArrayBuffer | Uint8Array): Effect.Effect<unknown, InvalidRequest> => {
  const decoded = decodeUtf8(bytes)
  if (Option.isNone(decoded)) return Effect.fail(invalid("body", "not valid UTF-8"))
  const text = decoded.value
  if (text.charCodeAt(0) === 0xfeff) return Effect.fail(invalid("body", "starts with a byte order mark"))
  const value = parseJson(text)
  if (Option.isNone(value)) return Effect.fail(invalid("body", "malformed JSON"))
  const lost = lossyParts(text)
  return lost.length > 0 ? Effect.fail(new InvalidRequest({ errors: lost })) : Effect.succeed(value.value)
}

const decodeUtf8 = Option.liftThrowable((bytes: ArrayBuffer | Uint8Array) => utf8.decode(bytes))
const parseJson = Option.liftThrowable((text: string): unknown => JSON.parse(text))

import { assert, describe, it, layer } from "@effect/vitest"
import BigJs from "big.js"
import { Config, type Context, Data, Effect, Schema } from "effect"
import { HttpServer } from "effect/http"
import * as fc from "fast-check"
import { METHODS } from "node:http"
import { connect } from "node:net"
import { FieldError } from "../../src/http/ApiError.ts"
import { lossyParts } from "../../src/http/RequestBody.ts"
import { MAX_AMOUNT } from "../../src/payments/Payment.ts"
import { PaymentQueue } from "../../src/payments/PaymentQueue.ts"
import { PaymentRepository } from "../../src/payments/PaymentRepository.ts"
import { apiTestLayer } from "../support/api.ts"

/**
 * Property-based tests of the HTTP API's edge: generated bad requests must each get a 4xx with the documented
 * error shape, never a 5xx, a hang or a reset, and must leave the queue and the store untouched; generated valid
 * payments must each be accepted and enqueued once. The seed is fixed (FUZZ_SEED overrides it) and a failure
 * prints it with the shrunk counterexample, so `FUZZ_SEED=<seed>` replays the run.
 */

const bodyLimit = 4096
const MAX_CENTS = Math.round(MAX_AMOUNT * 100)

const runs = {
  truncated: 1000,
  corrupted: 1000,
  wrongTypes: 800,
  amounts: 1500,
  correlationIds: 1000,
  duplicates: 1500,
  overLimit: 300,
  contentTypes: 800,
  methodsAndPaths: 800,
  summaryBounds: 1000,
  encodings: 1000,
  framing: 600,
  valid: 1000
} as const

// == raw HTTP

interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const dechunk = (bytes: Buffer) => {
  const parts: Array<Buffer> = []
  let offset = 0
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", offset)
    const size = lineEnd < 0 ? 0 : parseInt(bytes.subarray(offset, lineEnd).toString("latin1"), 16)
    if (!(size > 0)) return Buffer.concat(parts)
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size))
    offset = lineEnd + 2 + size + 2
  }
}

/** The first final answer in what the server sent (interim 1xx answers are skipped); status 0 when there is none. */
const parseAnswer = (bytes: Buffer): Answer => {
  let offset = 0
  for (;;) {
    const headEnd = bytes.indexOf("\r\n\r\n", offset)
    if (headEnd < 0) return { status: 0, headers: {}, body: bytes.toString("latin1") }
    const [statusLine = "", ...lines] = bytes.subarray(offset, headEnd).toString("latin1").split("\r\n")
    const status = Number(statusLine.split(" ")[1])
    offset = headEnd + 4
    if (status >= 100 && status < 200) continue
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(":")
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const rest = bytes.subarray(offset)
    const length = headers["content-length"]
    const body = headers["transfer-encoding"] === "chunked"
      ? dechunk(rest)
      : length === undefined
      ? rest
      : rest.subarray(0, Number(length))
    return { status, headers, body: body.toString("utf8") }
  }
}

class ExchangeFailed extends Data.TaggedError("ExchangeFailed")<{ readonly message: string }> {}

/**
 * Sends the bytes on a new connection and reads until the server closes it (every request says
 * `connection: close`). A reset or no close within 5 seconds fails. `halfClose` ends the sending side after the
 * bytes, for requests whose body is shorter than they announce.
 */
const exchange = (bytes: Uint8Array, halfClose = false) =>
  Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const port = server.address._tag === "UnixPathAddress" ? 0 : server.address.port
    const received = yield* Effect.callback<Buffer, ExchangeFailed>((resume) => {
      const socket = connect({ port, host: "127.0.0.1" })
      const chunks: Array<Buffer> = []
      // a real timer: the TestClock of it.effect never advances on its own
      const timer = setTimeout(() => {
        resume(Effect.fail(new ExchangeFailed({ message: "the server neither answered nor closed within 5 seconds" })))
        socket.destroy()
      }, 5000)
      socket.on("data", (chunk) => chunks.push(chunk))
      socket.on("error", (error) => resume(Effect.fail(new ExchangeFailed({ message: error.message }))))
      socket.on("close", () => {
        clearTimeout(timer)
        resume(Effect.succeed(Buffer.concat(chunks)))
      })
      if (halfClose) socket.end(bytes)
      else socket.write(bytes)
      return Effect.sync(() => {
        clearTimeout(timer)
        socket.destroy()
      })
    })
    return parseAnswer(received)
  })

type Framing =
  | { readonly _tag: "Length" }
  | { readonly _tag: "Chunked"; readonly sizes: ReadonlyArray<number>; readonly codings?: string }
  | { readonly _tag: "None" }

interface HttpRequest {
  readonly method?: string
  readonly path?: string
  readonly headers?: ReadonlyArray<readonly [string, string]>
  readonly body?: Uint8Array
  readonly framing?: Framing
}

const chunked = (body: Uint8Array, sizes: ReadonlyArray<number>) => {
  const parts: Array<Uint8Array> = []
  let offset = 0
  for (let n = 0; offset < body.length; n++) {
    const size = Math.min(Math.max(1, sizes[n % Math.max(1, sizes.length)] ?? 1), body.length - offset)
    parts.push(Buffer.from(`${size.toString(16)}\r\n`), body.subarray(offset, offset + size), Buffer.from("\r\n"))
    offset += size
  }
  parts.push(Buffer.from("0\r\n\r\n"))
  return Buffer.concat(parts)
}

const encodeRequest = (request: HttpRequest): Uint8Array => {
  const body = request.body ?? new Uint8Array()
  const framing = request.framing ?? { _tag: "Length" }
  const lines = [
    `${request.method ?? "POST"} ${request.path ?? "/payments"} HTTP/1.1`,
    "host: localhost",
    "connection: close",
    ...(request.headers ?? []).map(([name, value]) => `${name}: ${value}`)
  ]
  if (framing._tag === "Length") lines.push(`content-length: ${body.length}`)
  if (framing._tag === "Chunked") lines.push(`transfer-encoding: ${framing.codings ?? "chunked"}`)
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1")
  return Buffer.concat([head, framing._tag === "Chunked" ? chunked(body, framing.sizes) : body])
}

const send = (request: HttpRequest) => exchange(encodeRequest(request))

const json: ReadonlyArray<readonly [string, string]> = [["content-type", "application/json"]]

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"))

/** Raw bytes travel through the generators as Latin-1 strings, which fast-check prints readably on failure. */
const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1")
const bytesOf = (text: string) => new Uint8Array(Buffer.from(text, "latin1"))

// == what every answer must be

const ErrorBody = Schema.Struct({ error: Schema.String, errors: Schema.NonEmptyArray(FieldError) })
const isErrorBody = Schema.is(ErrorBody)

const errorCodes: Readonly<Record<number, string>> = {
  400: "invalid_request",
  404: "not_found",
  405: "method_not_allowed"
}

interface Refusal {
  readonly status: 400 | 404 | 405
  /** Each of these fields is named by an error. */
  readonly fields?: ReadonlyArray<string>
  /** Some error names one of these fields. */
  readonly someOf?: ReadonlyArray<string>
}

const errorsOf = (answer: Answer) => {
  assert.strictEqual(answer.headers["content-type"], "application/json", `content type of ${answer.body}`)
  const body: unknown = JSON.parse(answer.body)
  assert.isTrue(isErrorBody(body), `the documented error shape: ${answer.body}`)
  return isErrorBody(body) ? body : { error: "", errors: [] }
}

const assertRefused = (answer: Answer, refusal: Refusal, head = false) => {
  assert.strictEqual(answer.status, refusal.status, `status of ${answer.body}`)
  if (head) return
  const body = errorsOf(answer)
  assert.strictEqual(body.error, errorCodes[refusal.status])
  const named = body.errors.map((e) => e.field)
  for (const field of refusal.fields ?? []) assert.include(named, field, answer.body)
  if (refusal.someOf !== undefined) {
    assert.isTrue(named.some((field) => refusal.someOf?.includes(field)), `one of ${refusal.someOf}: ${answer.body}`)
  }
}

/** A 4xx from Node's HTTP parser (which answers without a body) or from the API (with the documented shape). */
const assertRefusedSomehow = (answer: Answer) => {
  assert.isTrue(answer.status >= 400 && answer.status < 500, `a 4xx, got ${answer.status}: ${answer.body}`)
  if (answer.headers["content-type"] !== undefined) errorsOf(answer)
}

/** Each case starts from an empty queue and store, so that a failing case cannot make the next ones fail. */
const emptied = Effect.gen(function*() {
  yield* (yield* PaymentQueue).purge
  yield* (yield* PaymentRepository).purge
})

const assertNothingTaken = Effect.gen(function*() {
  const queue = yield* PaymentQueue
  const repository = yield* PaymentRepository
  assert.strictEqual(yield* queue.size, 0, "nothing was enqueued")
  const summary = yield* repository.summary({})
  assert.strictEqual(summary.default.totalRequests + summary.fallback.totalRequests, 0, "nothing was stored")
})

const fuzzSeed = Config.Int("FUZZ_SEED").pipe(Config.withDefault(20_250_820))

/** Runs the property over `numRuns` generated cases and fails with fast-check's report (seed, counterexample). */
const holds = <A, R>(
  arbitrary: fc.Arbitrary<A>,
  numRuns: number,
  property: (value: A) => Effect.Effect<void, unknown, R>
) =>
  Effect.gen(function*() {
    const seed = yield* fuzzSeed
    const context: Context.Context<R> = yield* Effect.context<R>()
    const details = yield* Effect.promise(() =>
      fc.check(fc.asyncProperty(arbitrary, (value) => Effect.runPromiseWith(context)(property(value))), {
        numRuns,
        seed
      })
    )
    assert.isFalse(details.failed, `${fc.defaultReportMessage(details)}\n${String(details.errorInstance)}`)
    assert.strictEqual(details.numRuns, numRuns)
  })

// == JSON documents, written out by hand so that they can hold what JSON.stringify cannot

type Doc =
  | { readonly _tag: "Literal"; readonly text: string; readonly isNumber: boolean }
  | { readonly _tag: "Array"; readonly items: ReadonlyArray<Doc> }
  | { readonly _tag: "Object"; readonly members: ReadonlyArray<Member> }

interface Member {
  readonly key: string
  /** How the key is written: a JSON string literal, some characters possibly \u-escaped. */
  readonly spelling: string
  readonly value: Doc
}

const literal = (text: string): Doc => ({ _tag: "Literal", text, isNumber: false })
const numberLiteral = (text: string): Doc => ({ _tag: "Literal", text, isNumber: true })
const object = (members: ReadonlyArray<Member>): Doc => ({ _tag: "Object", members })

const unicodeEscape = (char: string) =>
  Array.from({ length: char.length }, (_, i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, "0")}`).join("")

const spell = (text: string, escapes: ReadonlyArray<boolean>) =>
  `"${
    Array.from(text, (char, i) =>
      escapes.length > 0 && escapes[i % escapes.length] === true
        ? unicodeEscape(char)
        : JSON.stringify(char).slice(1, -1)).join("")
  }"`

const render = (doc: Doc, space: string): string => {
  switch (doc._tag) {
    case "Literal":
      return doc.text
    case "Array":
      return `[${space}${doc.items.map((item) => render(item, space)).join(`${space},${space}`)}${space}]`
    case "Object":
      return `{${space}${
        doc.members.map((m) => `${m.spelling}${space}:${space}${render(m.value, space)}`).join(`${space},${space}`)
      }${space}}`
  }
}

const spaces = fc.constantFrom("", " ", "\n", "\t", "\r\n  ")
const escapeMasks = fc.array(fc.boolean(), { maxLength: 4 })

const safeNumbers = fc.tuple(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, 1, 2)).map((
  [x, style]
) => style === 0 ? String(x) : style === 1 ? x.toExponential() : x.toExponential().toUpperCase())

/** Number literals JSON.parse may round: long, tiny or huge. Whether each one loses anything is for the model. */
const riskyNumbers = fc.oneof(
  fc.stringMatching(/^-?[1-9]\d{15,24}$/),
  fc.stringMatching(/^-?\d\.\d{15,24}$/),
  fc.stringMatching(/^-?[1-9]e-?[2-4]\d{2}$/),
  safeNumbers
)

const keys = fc.oneof(
  fc.constantFrom("correlationId", "amount", "a", "b", "__proto__", "constructor", "", "a.b"),
  fc.string({ unit: "binary", maxLength: 5 })
)

const members = (values: fc.Arbitrary<Doc>) =>
  fc.record({ key: keys, escapes: escapeMasks, value: values }).map(({ escapes, key, value }): Member => ({
    key,
    spelling: spell(key, escapes),
    value
  }))

const documents = (numbers: fc.Arbitrary<string>) =>
  fc.letrec<{ doc: Doc; leaf: Doc; array: Doc; object: Doc }>((tie) => ({
    doc: fc.oneof({ depthSize: "small", maxDepth: 3 }, tie("leaf"), tie("array"), tie("object")),
    leaf: fc.oneof(
      fc.constantFrom("null", "true", "false").map(literal),
      numbers.map(numberLiteral),
      fc.string({ unit: "binary", maxLength: 8 }).map((s) => literal(JSON.stringify(s)))
    ),
    array: fc.array(tie("doc"), { maxLength: 3 }).map((items): Doc => ({ _tag: "Array", items })),
    object: fc.uniqueArray(members(tie("doc")), { selector: (m) => m.key, maxLength: 3 }).map(object)
  })).doc

const safeDocuments = documents(safeNumbers)

interface Duplicate {
  readonly at: number
  readonly pick: number
  readonly position: number
  readonly escapes: ReadonlyArray<boolean>
  readonly value: Doc
}

const duplicates = (values: fc.Arbitrary<Doc>) =>
  fc.record({ at: fc.nat(), pick: fc.nat(), position: fc.nat(), escapes: escapeMasks, value: values })

const countObjects = (doc: Doc): number =>
  doc._tag === "Literal"
    ? 0
    : doc._tag === "Array"
    ? doc.items.reduce((n, item) => n + countObjects(item), 0)
    : doc.members.reduce((n, m) => n + countObjects(m.value), 1)

/** Adds a member whose key is already in one of the document's objects (or two of the same key to an empty one). */
const withDuplicate = (doc: Doc, duplicate: Duplicate): Doc => {
  const count = countObjects(doc)
  if (count === 0) return doc
  const target = duplicate.at % count
  let seen = 0
  const go = (d: Doc): Doc => {
    if (d._tag === "Literal") return d
    if (d._tag === "Array") return { _tag: "Array", items: d.items.map(go) }
    const index = seen++
    const ms = d.members.map((m) => ({ ...m, value: go(m.value) }))
    if (index !== target) return object(ms)
    const original = ms.length === 0 ? undefined : ms[duplicate.pick % ms.length]
    const key = original?.key ?? "k"
    const copy: Member = { key, spelling: spell(key, duplicate.escapes), value: duplicate.value }
    const at = duplicate.position % (ms.length + 1)
    return object([...ms.slice(0, at), ...(original === undefined ? [copy, copy] : [copy]), ...ms.slice(at)])
  }
  return go(doc)
}

const isExact = (text: string) => {
  const value = Number(text)
  return Number.isFinite(value) && new BigJs(text).eq(new BigJs(String(value)))
}

/** The model of what JSON.parse loses: `field kind` for each repeated key and each number it cannot give back. */
const lossesOf = (doc: Doc): Set<string> => {
  const found = new Set<string>()
  const visit = (d: Doc, path: ReadonlyArray<string>) => {
    if (d._tag === "Literal") {
      if (d.isNumber && !isExact(d.text)) found.add(`${path.length === 0 ? "body" : path.join(".")} number`)
    } else if (d._tag === "Array") {
      d.items.forEach((item, i) => visit(item, [...path, String(i)]))
    } else {
      const keysSeen = new Set<string>()
      for (const m of d.members) {
        if (keysSeen.has(m.key)) found.add(`${[...path, m.key].join(".")} duplicate`)
        keysSeen.add(m.key)
        visit(m.value, [...path, m.key])
      }
    }
  }
  visit(doc, [])
  return found
}

const reported = (errors: ReadonlyArray<FieldError>) =>
  new Set(errors.map((e) => `${e.field} ${e.message === "given more than once" ? "duplicate" : "number"}`))

// == payments

const uuids = fc.uuid()

const amountText = (cents: number, style: number) => {
  const value = new BigJs(cents).div(100)
  switch (style) {
    case 0:
      return value.toFixed(2)
    case 1:
      return value.toString()
    case 2:
      return `${cents}e-2`
    case 3:
      return value.toExponential()
    case 4:
      return value.toExponential().toUpperCase()
    default:
      return value.toFixed(4)
  }
}

const cents = fc.oneof(fc.integer({ min: 1, max: MAX_CENTS }), fc.constantFrom(1, 10, 99, 100, MAX_CENTS))
const validAmounts = fc.tuple(cents, fc.nat({ max: 5 })).map(([c, style]) => ({ cents: c, text: amountText(c, style) }))

interface Payment {
  readonly correlationId: string
  readonly amount: string
  readonly text: string
}

/** A valid payment body: both fields in either order among extra fields, keys and UUID maybe \u-escaped. */
const payments = (options: { readonly extras: boolean }) =>
  fc.record({
    correlationId: fc.tuple(uuids, fc.boolean()).map(([u, upper]) => upper ? u.toUpperCase() : u),
    amount: validAmounts,
    idEscapes: escapeMasks,
    keyEscapes: fc.tuple(escapeMasks, escapeMasks),
    extras: options.extras
      ? fc.uniqueArray(members(safeDocuments), { selector: (m) => m.key, maxLength: 3 }).map((ms) =>
        ms.filter((m) => m.key !== "correlationId" && m.key !== "amount")
      )
      : fc.constant([]),
    position: fc.tuple(fc.nat(), fc.nat()),
    space: spaces
  }).map(({ amount, correlationId, extras, idEscapes, keyEscapes, position, space }) => {
    const fields: Array<Member> = [...extras]
    fields.splice(position[0] % (fields.length + 1), 0, {
      key: "correlationId",
      spelling: spell("correlationId", keyEscapes[0]),
      value: literal(spell(correlationId, idEscapes))
    })
    fields.splice(position[1] % (fields.length + 1), 0, {
      key: "amount",
      spelling: spell("amount", keyEscapes[1]),
      value: numberLiteral(amount.text)
    })
    return { correlationId, amount: amount.text, cents: amount.cents, doc: object(fields), space }
  })

const paymentText = (fields: { readonly correlationId: string; readonly amount: string }) =>
  `{"correlationId":${fields.correlationId},"amount":${fields.amount}}`

const plainPayments = fc.tuple(uuids, validAmounts).map(([u, a]): Payment => {
  const fields = { correlationId: JSON.stringify(u), amount: a.text }
  return { ...fields, text: paymentText(fields) }
})

// == generators of bad input

/** Inserting one of these anywhere in a payment with no extra fields breaks its syntax, a key or the UUID. */
const breakers = fc.constantFrom(
  "\"",
  "{",
  "}",
  "[",
  "]",
  ":",
  ",",
  "\\",
  "\u0000",
  "\u0001",
  "\u0008",
  "\u000b",
  "\u000c",
  "\u001f"
)

const badAmounts: fc.Arbitrary<{ readonly text: string; readonly field: "amount" | "body" }> = fc.oneof(
  fc.constantFrom("0", "-0", "0.0", "0.00", "0e0", "-0.0e5", "0E-2", "0.000").map((text) => ({
    text,
    field: "amount" as const
  })),
  validAmounts.map((a) => ({ text: `-${a.text}`, field: "amount" as const })),
  fc.tuple(fc.integer({ min: 0, max: 99_999_999 }), fc.stringMatching(/^\d{2}\d{0,14}[1-9]$/)).map((
    [whole, decimals]
  ) => ({ text: `${whole}.${decimals}`, field: "amount" as const })),
  fc.tuple(validAmounts, fc.integer({ min: 0, max: 24 }), fc.integer({ min: 1, max: 9 })).map(([a, zeros, digit]) => ({
    text: `${amountText(a.cents, 0)}${"0".repeat(zeros)}${digit}`,
    field: "amount" as const
  })),
  fc.oneof(
    fc.integer({ min: MAX_CENTS + 1, max: Number.MAX_SAFE_INTEGER }).map((c) => amountText(c, 0)),
    fc.constantFrom("1e309", "1e400", "-1e309", "9".repeat(400), "1.7976931348623159e308", "1e-400", "5e-324"),
    fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 11, max: 400 })).map(([m, e]) => `${m}e${e}`)
  ).map((text) => ({ text, field: "amount" as const })),
  fc.tuple(fc.integer({ min: 1, max: 99_999 }), fc.integer({ min: 3, max: 30 })).map(([m, e]) => `${m}e-${e}`).filter(
    (text) => {
      const hundredths = new BigJs(text).times(100)
      return !hundredths.eq(hundredths.round(0))
    }
  ).map((text) => ({ text, field: "amount" as const })),
  fc.tuple(validAmounts, fc.nat({ max: 8 })).map(([a, how]) => {
    const t = a.text
    const mangled = [
      `+${t}`,
      `0${t}`,
      `.${t}`,
      `${t}e`,
      `${t}E+`,
      `${t}.`,
      t.replace(/^(\d)/, "$1_"),
      `0x${t.replace(/\D/g, "").slice(0, 8) || "1"}`,
      t.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)))
    ][how]
    return { text: mangled ?? `+${t}`, field: "body" as const }
  }),
  fc.constantFrom("NaN", "-NaN", "Infinity", "-Infinity", "nan", "inf", "1,5", "- 1", "--1", "1..2", "١٢").map((
    text
  ) => ({ text, field: "body" as const })),
  validAmounts.map((a) => ({ text: JSON.stringify(a.text), field: "amount" as const })),
  fc.constantFrom("null", "true", "false", "[]", "{}", "[1]", "{\"value\":1}", "\"\"").map((text) => ({
    text,
    field: "amount" as const
  }))
)

/** Strings that are not UUIDs, most of them one edit away from one. */
const notUuids: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !/^[0-9a-f-]{36}$/i.test(s)),
  fc.tuple(uuids, fc.nat()).map(([u, i]) => u.slice(0, i % 36) + u.slice((i % 36) + 1)),
  fc.tuple(uuids, fc.nat(), fc.constantFrom(..."0af-gZ ")).map(([u, i, c]) => u.slice(0, i % 37) + c + u.slice(i % 37)),
  fc.tuple(uuids, fc.nat(), fc.constantFrom("g", "G", "z", "x", " ", "_", "{", "é", "０", "а", "\u200b", "\u0000")).map(
    (
      [u, i, c]
    ) => u.slice(0, i % 36) + c + u.slice((i % 36) + 1)
  ),
  fc.tuple(uuids, fc.constantFrom(8, 13, 18, 23)).map(([u, i]) => u.slice(0, i) + u[i + 1] + "-" + u.slice(i + 2)),
  fc.tuple(uuids, fc.constantFrom(..."09abcdefABCDEF")).map(([u, c]) => u.slice(0, 14) + c + u.slice(15)),
  fc.tuple(uuids, fc.constantFrom(..."01234567cdefCDEF")).map(([u, c]) => u.slice(0, 19) + c + u.slice(20)),
  fc.tuple(uuids, fc.constantFrom("{%s}", "urn:uuid:%s", " %s", "%s ", "%s\n", "\"%s\"", "%s%s", "(%s)")).map((
    [u, form]
  ) => form.replaceAll("%s", u)),
  uuids.map((u) => u.replaceAll("-", ""))
)

/** RFC 9562: versions 1 to 8 with the 10xx variant, or the nil and max UUIDs. */
const isUuid = (s: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(s) ||
  /^(0{8}-0{4}-0{4}-0{4}-0{12}|f{8}-f{4}-f{4}-f{4}-f{12})$/i.test(s)

const nonStrings = safeDocuments.filter((d) => !(d._tag === "Literal" && d.text.startsWith("\"")))
const nonNumbers = safeDocuments.filter((d) => !(d._tag === "Literal" && d.isNumber))

const nonJsonMediaTypes = fc.oneof(
  fc.tuple(
    fc.constantFrom("text", "application", "image", "multipart", "x-custom", "*"),
    fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,15}$/).filter((sub) => sub !== "json")
  ).map(([type, sub]) => `${type}/${sub}`),
  fc.constantFrom(
    "json",
    "application",
    "application/",
    "/json",
    "application/json+",
    "application/jsonx",
    "text/json",
    "application/x-json",
    "application/json, text/plain",
    "application/json text/plain",
    "*/*",
    "application/*",
    "",
    " ",
    "application/json-seq",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x"
  )
)

const jsonMediaTypes = fc.constantFrom(
  "application/json",
  "APPLICATION/JSON",
  "application/json; charset=utf-8",
  "application/json;charset=\"UTF-8\"",
  "application/json; charset=utf8",
  "application/vnd.rinha+json",
  "application/problem+json; charset=UTF-8"
)

const badCharsets = fc.oneof(
  fc.constantFrom(
    "utf-16",
    "UTF-16LE",
    "utf-16be",
    "utf-32",
    "iso-8859-1",
    "latin1",
    "us-ascii",
    "windows-1252",
    "utf-7",
    "utf 8",
    "utf_8",
    "\"\"",
    "gbk",
    "shift_jis"
  ),
  fc.stringMatching(/^[a-z0-9-]{1,12}$/).filter((c) => !/^utf-?8$/.test(c))
)

const codings = fc.constantFrom(
  "gzip",
  "deflate",
  "br",
  "compress",
  "x-gzip",
  "zstd",
  "identity, gzip",
  "gzip, identity"
)

const chunkSizes = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 })

const framings: fc.Arbitrary<Framing> = fc.oneof(
  fc.constant<Framing>({ _tag: "Length" }),
  chunkSizes.map((sizes): Framing => ({ _tag: "Chunked", sizes }))
)

const invalidUtf8 = fc.constantFrom(
  [0x80],
  [0xbf],
  [0xc0, 0xa2],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0xa2],
  [0xf0, 0x80, 0x80, 0xa2],
  [0xc3],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff]
)

/** Encodings of a payment's text that are not UTF-8 JSON. */
const badEncodings: fc.Arbitrary<(text: string) => Uint8Array> = fc.oneof(
  fc.constantFrom(
    (text: string) => new Uint8Array(Buffer.from(text, "utf16le")),
    (text: string) => new Uint8Array(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")])),
    (text: string) => new Uint8Array(Buffer.from(text, "utf16le").swap16()),
    (text: string) => new Uint8Array(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()])),
    (text: string) => new Uint8Array(Array.from(text, (c) => [c.charCodeAt(0), 0, 0, 0]).flat()),
    (text: string) => new Uint8Array(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))
  ),
  fc.tuple(invalidUtf8, fc.nat()).map(([bytes, at]) => (text: string) => {
    const raw = Buffer.from(text)
    const i = at % (raw.length + 1)
    return new Uint8Array(Buffer.concat([raw.subarray(0, i), Buffer.from(bytes), raw.subarray(i)]))
  }),
  fc.tuple(fc.constantFrom(0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x0e, 0x1b, 0x1f), fc.nat()).map(
    ([byte, at]) => (text: string) => {
      const raw = Buffer.from(text)
      const i = at % (raw.length + 1)
      return new Uint8Array(Buffer.concat([raw.subarray(0, i), Buffer.from([byte]), raw.subarray(i)]))
    }
  )
)

// == summary bounds

const instants = fc.date({
  min: new Date("1970-01-01T00:00:00.000Z"),
  max: new Date("2100-01-01T00:00:00.000Z"),
  noInvalidDate: true
})

/** A valid ISO-8601 instant for the date, in one of the forms the API accepts. */
const instantText = (date: Date, form: number, offsetQuarters: number) => {
  const iso = date.toISOString()
  switch (form) {
    case 0:
      return iso
    case 1:
      return `${iso.slice(0, 19)}Z`
    case 2:
      return iso.toLowerCase()
    default: {
      const minutes = ((offsetQuarters % 105) - 48) * 15
      const local = new Date(date.getTime() + minutes * 60_000).toISOString().slice(0, 23)
      const sign = minutes < 0 ? "-" : "+"
      const abs = Math.abs(minutes)
      return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`
    }
  }
}

const instantTexts = fc.tuple(instants, fc.nat({ max: 3 }), fc.nat()).map(([d, form, q]) => instantText(d, form, q))

const twoDigits = (min: number, max: number) => fc.integer({ min, max }).map((n) => String(n).padStart(2, "0"))

/**
 * Strings that are not instants: out-of-range parts, missing parts, other formats, words. Days 29 to 31 past the
 * end of their month are left out: the API takes 2025-02-30 for March 2 (its check is Date.parse, which rolls over).
 */
const notInstants: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(instants, fc.oneof(twoDigits(13, 99), fc.constant("00"))).map(([d, m]) =>
    `${d.toISOString().slice(0, 5)}${m}${d.toISOString().slice(7)}`
  ),
  fc.tuple(instants, fc.oneof(twoDigits(32, 99), fc.constant("00"))).map(([d, day]) =>
    `${d.toISOString().slice(0, 8)}${day}${d.toISOString().slice(10)}`
  ),
  fc.tuple(instants, twoDigits(25, 99)).map(([d, h]) =>
    `${d.toISOString().slice(0, 11)}${h}${d.toISOString().slice(13)}`
  ),
  fc.tuple(instants, twoDigits(60, 99)).map(([d, m]) =>
    `${d.toISOString().slice(0, 14)}${m}${d.toISOString().slice(16)}`
  ),
  fc.tuple(instants, twoDigits(60, 99)).map(([d, s]) =>
    `${d.toISOString().slice(0, 17)}${s}${d.toISOString().slice(19)}`
  ),
  fc.tuple(instants, fc.constantFrom(" ", "_", "")).map(([d, t]) => d.toISOString().replace("T", t)),
  instants.map((d) => d.toISOString().slice(0, 23)),
  instants.map((d) => d.toISOString().slice(0, 10)),
  fc.tuple(instants, fc.constantFrom("x", "Zulu", "+05", "+0530Z", " ", "ZZ")).map(([d, tail]) =>
    d.toISOString() + tail
  ),
  instants.map((d) => String(d.getTime())),
  fc.constantFrom("now", "today", "yesterday", "null", "undefined", "-", "T", "Z", "2025", "2025-08"),
  fc.string({ unit: "binary", minLength: 1, maxLength: 30 }).filter((s) => !/^\d{4}-/.test(s) && s.trim() !== "")
)

const query = (params: ReadonlyArray<readonly [string, string]>) =>
  params.length === 0 ? "" : `?${params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}`

interface SummaryCase {
  readonly params: ReadonlyArray<readonly [string, string]>
  readonly fields: ReadonlyArray<string>
}

const summaryCases: fc.Arbitrary<SummaryCase> = fc.oneof(
  fc.tuple(instantTexts, instantTexts, fc.boolean()).filter(([a, b]) => Date.parse(a) > Date.parse(b)).map((
    [later, earlier, swap]
  ): SummaryCase => ({
    params: swap ? [["to", earlier], ["from", later]] : [["from", later], ["to", earlier]],
    fields: ["from"]
  })),
  fc.tuple(notInstants, fc.option(instantTexts, { nil: undefined })).map(([bad, good]): SummaryCase => ({
    params: good === undefined ? [["from", bad]] : [["from", bad], ["to", good]],
    fields: ["from"]
  })),
  fc.tuple(notInstants, fc.option(instantTexts, { nil: undefined })).map(([bad, good]): SummaryCase => ({
    params: good === undefined ? [["to", bad]] : [["to", bad], ["from", good]],
    fields: ["to"]
  })),
  fc.tuple(notInstants, notInstants).map(([a, b]): SummaryCase => ({
    params: [["from", a], ["to", b]],
    fields: ["from", "to"]
  })),
  fc.tuple(fc.constantFrom("from", "to"), instantTexts, instantTexts).map(([name, a, b]): SummaryCase => ({
    params: [[name, a], [name, b]],
    fields: [name]
  }))
)

// == routes

const routes: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["/payments", ["POST"]],
  ["/payments-summary", ["GET"]],
  ["/purge-payments", ["POST"]],
  ["/health", ["GET"]],
  ["/ready", ["GET"]],
  ["/metrics", ["GET"]]
]

/**
 * Every method Node parses but CONNECT (Node closes such connections without an answer) and, on a GET route,
 * HEAD (the API answers 405 while its Allow header lists HEAD): both are outside what the API's handlers decide.
 */
const testedMethods = METHODS.filter((m) => m !== "CONNECT")

const wrongMethods = fc.constantFrom(...routes).chain(([path, allowed]) =>
  fc.constantFrom(
    ...testedMethods.filter((m) => !allowed.includes(m) && !(m === "HEAD" && allowed.includes("GET")))
  ).map((method) => ({ path, method, allow: allowed.includes("GET") ? [...allowed, "HEAD"] : allowed }))
)

const routePaths = new Set(routes.map(([path]) => path))

const unknownPaths = fc.tuple(
  fc.array(
    fc.oneof(
      fc.constantFrom("payments", "payments-summary", "purge-payments", "health", "ready", "metrics", "api", "v1"),
      fc.stringMatching(/^[A-Za-z0-9_~-]{1,12}$/)
    ),
    { minLength: 1, maxLength: 3 }
  ),
  fc.option(fc.constantFrom("?x=1", "?from=2025-08-20T00:00:00Z", "?"), { nil: undefined })
).map(([segments, search]) => ({ path: `/${segments.join("/")}`, search: search ?? "" })).filter(({ path }) =>
  !routePaths.has(path.toLowerCase())
)

// == framing

const framingCases: fc.Arbitrary<{ readonly request: string }> = plainPayments.chain((payment) => {
  const body = Buffer.from(payment.text)
  const head = (...lines: ReadonlyArray<string>) =>
    Buffer.from(
      [
        "POST /payments HTTP/1.1",
        "host: localhost",
        "connection: close",
        "content-type: application/json",
        ...lines,
        "",
        ""
      ].join("\r\n"),
      "latin1"
    )
  const withBody = (bytes: Buffer) => ({ request: latin1(bytes) })
  return fc.oneof(
    fc.constantFrom("zz", "", "-1", "0x10", " 5", "5 ", "+5", "fffffffffffffffffff", "5;", "g").map((size) =>
      withBody(
        Buffer.concat([
          head("transfer-encoding: chunked"),
          Buffer.from(`${size}\r\n`),
          body,
          Buffer.from("\r\n0\r\n\r\n")
        ])
      )
    ),
    fc.integer({ min: 1, max: 400 }).filter((n) => n !== body.length).map((declared) =>
      withBody(
        Buffer.concat([
          head("transfer-encoding: chunked"),
          Buffer.from(`${declared.toString(16)}\r\n`),
          body,
          Buffer.from("\r\n0\r\n\r\n")
        ])
      )
    ),
    fc.constant(
      withBody(
        Buffer.concat([
          head("transfer-encoding: chunked"),
          Buffer.from(`${body.length.toString(16)}\r\n`),
          body,
          Buffer.from("0\r\n\r\n")
        ])
      )
    ),
    fc.nat().map((cut) =>
      withBody(
        Buffer.concat([head("transfer-encoding: chunked"), chunked(body, [16]).subarray(0, cut % (body.length + 4))])
      )
    ),
    fc.constantFrom("gzip", "identity", "chunked, gzip", "chunked, chunked").map((te) =>
      withBody(Buffer.concat([head(`transfer-encoding: ${te}`), chunked(body, [32])]))
    ),
    fc.constant(
      withBody(
        Buffer.concat([head(`content-length: ${body.length}`, "transfer-encoding: chunked"), chunked(body, [32])])
      )
    ),
    fc.constantFrom("abc", "-1", "+10", "1.5", "0x10", "1e3", "99999999999999999999999", "10, 11", "10 10").map((cl) =>
      withBody(Buffer.concat([head(`content-length: ${cl}`), body]))
    ),
    fc.constant(
      withBody(Buffer.concat([head(`content-length: ${body.length}`, `content-length: ${body.length + 1}`), body]))
    ),
    fc.integer({ min: 1, max: 200 }).map((extra) =>
      withBody(Buffer.concat([head(`content-length: ${body.length + extra}`), body]))
    ),
    fc.integer({ min: 1, max: body.length - 1 }).map((declared) =>
      withBody(Buffer.concat([head(`content-length: ${declared}`), body]))
    ),
    fc.constantFrom(
      "bogus",
      "content-length : 2",
      "x-a: b\r\n c",
      "x-a: b\u0000c",
      "x(a): b",
      `x-big: ${"a".repeat(20_000)}`
    ).map((line) => withBody(Buffer.concat([head(line, `content-length: ${body.length}`), body]))),
    fc.constantFrom(
      `post /payments HTTP/1.1`,
      `FOO /payments HTTP/1.1`,
      `P0ST /payments HTTP/1.1`,
      `POST /payments HTTP/1.2`,
      `POST /payments HTTP/3.0`,
      `POST /payments HTTP/1.1 extra`,
      `POST /pay ments HTTP/1.1`,
      `POST /paymenté HTTP/1.1`
    ).map((line) =>
      withBody(
        Buffer.concat([
          Buffer.from(
            [
              line,
              "host: localhost",
              "connection: close",
              "content-type: application/json",
              `content-length: ${body.length}`,
              "",
              ""
            ]
              .join("\r\n"),
            "latin1"
          ),
          body
        ])
      )
    ),
    fc.constant(
      withBody(
        Buffer.concat([
          Buffer.from(
            `POST /payments HTTP/1.1\nhost: localhost\nconnection: close\ncontent-type: application/json\ncontent-length: ${body.length}\n\n`
          ),
          body
        ])
      )
    ),
    fc.constant(
      withBody(
        Buffer.concat([
          Buffer.from(
            `POST /payments HTTP/1.1\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`
          ),
          body
        ])
      )
    )
  )
})

// == the tests

describe("the JSON scanner", () => {
  it.effect("reports exactly the repeated keys and the numbers JSON.parse rounds, by path", () =>
    holds(
      fc.tuple(documents(riskyNumbers), fc.array(duplicates(documents(riskyNumbers)), { maxLength: 2 }), spaces),
      2000,
      ([doc, dups, space]) =>
        Effect.sync(() => {
          const written = dups.reduce(withDuplicate, doc)
          const text = render(written, space)
          JSON.parse(text)
          assert.deepStrictEqual([...reported(lossyParts(text))].sort(), [...lossesOf(written)].sort(), text)
        })
    ), { timeout: 60_000 })
})

describe("fuzzed bad input", () => {
  layer(apiTestLayer({ bodyLimit }), { timeout: "30 seconds" })((it) => {
    const holdsOnApi = <A, R>(
      arbitrary: fc.Arbitrary<A>,
      numRuns: number,
      property: (value: A) => Effect.Effect<void, unknown, R>
    ) => holds(arbitrary, numRuns, (value: A) => Effect.andThen(emptied, property(value)))

    const refuses = (request: HttpRequest, refusal: Refusal) =>
      Effect.gen(function*() {
        assertRefused(yield* send(request), refusal, request.method === "HEAD")
        yield* assertNothingTaken
      })

    it.effect("regressions: bodies the fuzzer found accepted (202) before RequestBody refused them", () =>
      Effect.gen(function*() {
        const id = "3d6f0a8e-1b2c-4d5e-8f9a-0b1c2d3e4f5a"
        const other = "4a7f6d1e-8c1a-4c3b-9a3e-1f2d3c4b5a69"
        const payment = utf8(`{"correlationId":"${id}","amount":1}`)
        const cases: ReadonlyArray<
          { readonly name: string; readonly request: HttpRequest; readonly field: string; readonly message: string }
        > = [
          {
            name: "a second correlationId",
            request: { headers: json, body: utf8(`{"correlationId":"${id}","correlationId":"${other}","amount":1}`) },
            field: "correlationId",
            message: "given more than once"
          },
          {
            name: "the same amount twice",
            request: { headers: json, body: utf8(`{"correlationId":"${id}","amount":1,"amount":1}`) },
            field: "amount",
            message: "given more than once"
          },
          {
            name: "an escaped key naming amount again",
            request: { headers: json, body: utf8(`{"correlationId":"${id}","amount":1,"\\u0061mount":2}`) },
            field: "amount",
            message: "given more than once"
          },
          {
            name: "a repeated key in an ignored field",
            request: { headers: json, body: utf8(`{"correlationId":"${id}","amount":1,"meta":{"a":1,"a":2}}`) },
            field: "meta.a",
            message: "given more than once"
          },
          {
            name: "an amount a double rounds to 2 decimals",
            request: { headers: json, body: utf8(`{"correlationId":"${id}","amount":20.0500000000000001}`) },
            field: "amount",
            message: "has more digits than a number holds"
          },
          {
            name: "an amount that underflows to 0",
            request: { headers: json, body: utf8(`{"correlationId":"${id}","amount":1e-400}`) },
            field: "amount",
            message: "is too small for a number"
          },
          {
            name: "a gzip content coding on plain JSON",
            request: { headers: [...json, ["content-encoding", "gzip"]], body: payment },
            field: "content-encoding",
            message: "expected no content coding"
          },
          {
            name: "a gzip transfer coding on plain JSON",
            request: {
              headers: json,
              body: payment,
              framing: { _tag: "Chunked", sizes: [8], codings: "gzip, chunked" }
            },
            field: "transfer-encoding",
            message: "expected no transfer coding but chunked"
          },
          {
            name: "a UTF-16 charset on UTF-8 bytes",
            request: { headers: [["content-type", "application/json; charset=utf-16"]], body: payment },
            field: "content-type",
            message: "expected charset utf-8"
          },
          {
            name: "a UTF-8 byte order mark",
            request: { headers: json, body: utf8(`\ufeff{"correlationId":"${id}","amount":1}`) },
            field: "body",
            message: "starts with a byte order mark"
          }
        ]
        for (const c of cases) {
          yield* emptied
          const answer = yield* send(c.request)
          assertRefused(answer, { status: 400, fields: [c.field] })
          const named = errorsOf(answer).errors.filter((e) => e.field === c.field).map((e) => e.message)
          assert.isTrue(named.some((m) => m.includes(c.message)), `${c.name}: ${answer.body}`)
          yield* assertNothingTaken
        }
      }))

    it.effect(`truncated JSON: 400 on the body (${runs.truncated} cases)`, () =>
      holdsOnApi(
        fc.tuple(payments({ extras: true }), fc.nat()).map(([p, cut]) => {
          const bytes = utf8(render(p.doc, p.space))
          return latin1(bytes.subarray(0, cut % bytes.length))
        }),
        runs.truncated,
        (body) => refuses({ headers: json, body: bytesOf(body) }, { status: 400, fields: ["body"] })
      ), { timeout: 120_000 })

    it.effect(`corrupted JSON: 400 (${runs.corrupted} cases)`, () =>
      holdsOnApi(
        fc.tuple(payments({ extras: false }), breakers, fc.nat()).map(([p, breaker, at]) => {
          const text = render(p.doc, p.space)
          const i = at % (text.length + 1)
          return text.slice(0, i) + breaker + text.slice(i)
        }),
        runs.corrupted,
        (text) =>
          refuses({ headers: json, body: utf8(text) }, { status: 400, someOf: ["body", "correlationId", "amount"] })
      ), { timeout: 120_000 })

    it.effect(`wrong types: 400 naming the field (${runs.wrongTypes} cases)`, () =>
      holdsOnApi(
        fc.oneof(
          nonStrings.map((d) => ({
            text: paymentText({ correlationId: render(d, ""), amount: "1" }),
            field: "correlationId"
          })),
          fc.tuple(uuids, nonNumbers).map(([u, d]) => ({
            text: paymentText({ correlationId: JSON.stringify(u), amount: render(d, "") }),
            field: "amount"
          })),
          safeDocuments.filter((d) => d._tag !== "Object").map((d) => ({ text: render(d, " "), field: "body" }))
        ),
        runs.wrongTypes,
        ({ field, text }) => refuses({ headers: json, body: utf8(text) }, { status: 400, fields: [field] })
      ), { timeout: 120_000 })

    it.effect(
      `bad amounts (zero, negative, > 2 decimals, huge, non-finite, exponents): 400 (${runs.amounts} cases)`,
      () =>
        holdsOnApi(
          fc.tuple(uuids, badAmounts),
          runs.amounts,
          ([u, amount]) =>
            refuses(
              { headers: json, body: utf8(paymentText({ correlationId: JSON.stringify(u), amount: amount.text })) },
              { status: 400, fields: [amount.field] }
            )
        ),
      { timeout: 120_000 }
    )

    it.effect(
      `correlationIds that are not UUIDs, near misses included: 400 (${runs.correlationIds} cases)`,
      () =>
        holdsOnApi(
          fc.tuple(notUuids, validAmounts),
          runs.correlationIds,
          ([id, amount]) =>
            Effect.gen(function*() {
              assert.isFalse(isUuid(id), `the generator made a UUID: ${id}`)
              yield* refuses(
                { headers: json, body: utf8(paymentText({ correlationId: JSON.stringify(id), amount: amount.text })) },
                { status: 400, fields: ["correlationId"] }
              )
            })
        ),
      { timeout: 120_000 }
    )

    it.effect(`duplicated keys at any depth: 400 naming each (${runs.duplicates} cases)`, () =>
      holdsOnApi(
        fc.tuple(payments({ extras: true }), fc.array(duplicates(safeDocuments), { minLength: 1, maxLength: 2 }))
          .map(([p, dups]) => {
            const doc = dups.reduce(withDuplicate, p.doc)
            return { doc, text: render(doc, p.space) }
          })
          .filter(({ text }) => Buffer.byteLength(text) <= bodyLimit),
        runs.duplicates,
        ({ doc, text }) =>
          Effect.gen(function*() {
            const answer = yield* send({ headers: json, body: utf8(text) })
            assertRefused(answer, { status: 400 })
            const expected = lossesOf(doc)
            assert.isAbove(expected.size, 0)
            assert.deepStrictEqual([...reported(errorsOf(answer).errors)].sort(), [...expected].sort(), text)
            yield* assertNothingTaken
          })
      ), { timeout: 120_000 })

    it.effect(`bodies over HTTP_BODY_LIMIT, by length or chunked: 400 (${runs.overLimit} cases)`, () =>
      holdsOnApi(
        fc.tuple(plainPayments, fc.integer({ min: 1, max: 2 * bodyLimit }), fc.boolean(), framings).map((
          [p, over, inside, framing]
        ) => {
          const padding = bodyLimit + over - p.text.length
          const text = inside
            ? `{"padding":"${"x".repeat(Math.max(0, padding - 13))}",${p.text.slice(1)}`
            : p.text + " ".repeat(padding)
          return { body: utf8(text), framing }
        }),
        runs.overLimit,
        ({ body, framing }) =>
          Effect.gen(function*() {
            assert.isAbove(body.length, bodyLimit)
            yield* refuses({ headers: json, body, framing }, { status: 400, fields: ["body"] })
          })
      ), { timeout: 120_000 })

    it.effect(
      `wrong or missing content types, charsets and codings: 400 (${runs.contentTypes} cases)`,
      () =>
        holdsOnApi(
          fc.tuple(
            plainPayments,
            fc.oneof(
              fc.option(nonJsonMediaTypes, { nil: undefined }).map((type) => ({
                headers: type === undefined ? [] : [["content-type", type] as const],
                framing: { _tag: "Length" } as Framing,
                field: "content-type"
              })),
              fc.tuple(fc.constantFrom("application/json", "application/vnd.x+json"), badCharsets, fc.boolean()).map((
                [type, charset, quoted]
              ) => ({
                headers: [["content-type", `${type}; charset=${quoted ? `"${charset}"` : charset}`] as const],
                framing: { _tag: "Length" } as Framing,
                field: "content-type"
              })),
              fc.tuple(jsonMediaTypes, codings).map(([type, coding]) => ({
                headers: [["content-type", type] as const, ["content-encoding", coding] as const],
                framing: { _tag: "Length" } as Framing,
                field: "content-encoding"
              })),
              fc.tuple(jsonMediaTypes, fc.constantFrom("gzip", "deflate", "br", "identity"), chunkSizes).map((
                [type, coding, sizes]
              ) => ({
                headers: [["content-type", type] as const],
                framing: { _tag: "Chunked", sizes, codings: `${coding}, chunked` } as Framing,
                field: "transfer-encoding"
              }))
            )
          ),
          runs.contentTypes,
          ([p, c]) =>
            refuses({ headers: c.headers, body: utf8(p.text), framing: c.framing }, { status: 400, fields: [c.field] })
        ),
      { timeout: 120_000 }
    )

    it.effect(
      `wrong methods on every route and unknown paths: 405 with Allow, 404 (${runs.methodsAndPaths} cases)`,
      () =>
        holdsOnApi(
          fc.tuple(
            plainPayments,
            fc.oneof(
              wrongMethods.map((w) => ({ ...w, search: "", status: 405 as const })),
              fc.tuple(unknownPaths, fc.constantFrom(...testedMethods)).map(([u, method]) => ({
                ...u,
                method,
                allow: [],
                status: 404 as const
              }))
            )
          ),
          runs.methodsAndPaths,
          ([p, c]) =>
            Effect.gen(function*() {
              const answer = yield* send({
                method: c.method,
                path: c.path + c.search,
                headers: json,
                body: utf8(p.text)
              })
              assertRefused(
                answer,
                { status: c.status, fields: [c.status === 405 ? "method" : "path"] },
                c.method === "HEAD"
              )
              if (c.status === 405) assert.strictEqual(answer.headers["allow"], c.allow.join(", "))
              yield* assertNothingTaken
            })
        ),
      { timeout: 120_000 }
    )

    it.effect(
      `invalid, reversed or repeated summary bounds: 400 naming them (${runs.summaryBounds} cases)`,
      () =>
        holdsOnApi(
          summaryCases,
          runs.summaryBounds,
          (c) =>
            refuses(
              { method: "GET", path: `/payments-summary${query(c.params)}`, framing: { _tag: "None" } },
              { status: 400, fields: c.fields }
            )
        ),
      { timeout: 120_000 }
    )

    it.effect(
      `odd encodings (UTF-16/32, BOMs, invalid or overlong UTF-8, NUL and control bytes): 400 (${runs.encodings} cases)`,
      () =>
        holdsOnApi(
          fc.tuple(plainPayments, badEncodings, jsonMediaTypes, framings).map(([p, encode, type, framing]) => ({
            body: latin1(encode(p.text)),
            type,
            framing
          })),
          runs.encodings,
          ({ body, framing, type }) =>
            refuses({ headers: [["content-type", type]], body: bytesOf(body), framing }, {
              status: 400,
              fields: ["body"]
            })
        ),
      { timeout: 120_000 }
    )

    it.effect(
      `broken framing (bad chunks, lengths, headers, request lines): 4xx, no hang (${runs.framing} cases)`,
      () =>
        holdsOnApi(
          framingCases,
          runs.framing,
          ({ request }) =>
            Effect.gen(function*() {
              assertRefusedSomehow(yield* exchange(bytesOf(request), true))
              yield* assertNothingTaken
            })
        ),
      { timeout: 120_000 }
    )

    it.effect(`valid payments are 202 and enqueued exactly once (${runs.valid} cases)`, () =>
      holdsOnApi(
        fc.tuple(payments({ extras: true }), jsonMediaTypes, framings, fc.boolean()).map((
          [p, type, framing, identity]
        ) => ({ ...p, text: render(p.doc, p.space), type, framing, identity })).filter(({ text }) =>
          Buffer.byteLength(text) <= bodyLimit
        ),
        runs.valid,
        (p) =>
          Effect.gen(function*() {
            const queue = yield* PaymentQueue
            yield* queue.purge
            const request: HttpRequest = {
              headers: [["content-type", p.type], ...(p.identity ? [["content-encoding", "identity"] as const] : [])],
              body: utf8(p.text),
              framing: p.framing
            }
            const first = yield* send(request)
            assert.strictEqual(first.status, 202, `${p.text}: ${first.body}`)
            assert.strictEqual(first.body, "")
            const again = yield* send(request)
            assert.strictEqual(again.status, 202, `${p.text} again: ${again.body}`)
            assert.strictEqual(yield* queue.size, 1, "enqueued once")
            const job = yield* queue.take
            yield* queue.complete(job)
            assert.deepStrictEqual(job.payment, { correlationId: p.correlationId, amount: p.cents / 100 })
            yield* queue.purge
          })
      ), { timeout: 120_000 })
  })
})

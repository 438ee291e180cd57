import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { PaymentQueue } from "../../src/payments/PaymentQueue.ts"
import { PaymentRepository } from "../../src/payments/PaymentRepository.ts"
import { apiTestLayer, rawRequest } from "../support/api.ts"

const uuid = "3d6f0a8e-1b2c-4d5e-8f9a-0b1c2d3e4f5a"

interface Case {
  readonly name: string
  readonly method?: string
  readonly path?: string
  readonly headers?: Record<string, string>
  readonly body?: string | Uint8Array
  readonly status: number
  readonly field?: string
}

const payment = (fields: Record<string, unknown>) => JSON.stringify(fields)

const cases: ReadonlyArray<Case> = [
  { name: "empty body", body: "", status: 400, field: "body" },
  { name: "truncated JSON", body: `{"correlationId":"${uuid}","amount":2`, status: 400, field: "body" },
  { name: "null", body: "null", status: 400, field: "body" },
  { name: "an array", body: "[]", status: 400, field: "body" },
  { name: "a string", body: "\"payment\"", status: 400, field: "body" },
  { name: "a number", body: "20.05", status: 400, field: "body" },
  { name: "an empty object", body: "{}", status: 400, field: "correlationId" },
  { name: "missing amount", body: payment({ correlationId: uuid }), status: 400, field: "amount" },
  { name: "missing correlationId", body: payment({ amount: 20.05 }), status: 400, field: "correlationId" },
  {
    name: "numeric correlationId",
    body: payment({ correlationId: 42, amount: 1 }),
    status: 400,
    field: "correlationId"
  },
  {
    name: "non-UUID correlationId",
    body: payment({ correlationId: "abc", amount: 1 }),
    status: 400,
    field: "correlationId"
  },
  {
    name: "UUID without hyphens",
    body: payment({ correlationId: uuid.replaceAll("-", ""), amount: 1 }),
    status: 400,
    field: "correlationId"
  },
  {
    name: "UUID with a trailing space",
    body: payment({ correlationId: `${uuid} `, amount: 1 }),
    status: 400,
    field: "correlationId"
  },
  { name: "amount as a string", body: payment({ correlationId: uuid, amount: "20.05" }), status: 400, field: "amount" },
  { name: "zero amount", body: payment({ correlationId: uuid, amount: 0 }), status: 400, field: "amount" },
  { name: "negative amount", body: payment({ correlationId: uuid, amount: -20.05 }), status: 400, field: "amount" },
  { name: "three decimals", body: payment({ correlationId: uuid, amount: 20.055 }), status: 400, field: "amount" },
  { name: "a huge amount", body: `{"correlationId":"${uuid}","amount":1e308}`, status: 400, field: "amount" },
  { name: "an overflowing amount", body: `{"correlationId":"${uuid}","amount":1e400}`, status: 400, field: "amount" },
  { name: "null amount", body: payment({ correlationId: uuid, amount: null }), status: 400, field: "amount" },
  { name: "boolean amount", body: payment({ correlationId: uuid, amount: true }), status: 400, field: "amount" },
  { name: "object amount", body: payment({ correlationId: uuid, amount: { value: 1 } }), status: 400, field: "amount" },
  { name: "NaN literal", body: `{"correlationId":"${uuid}","amount":NaN}`, status: 400, field: "body" },
  { name: "Infinity literal", body: `{"correlationId":"${uuid}","amount":Infinity}`, status: 400, field: "body" },
  { name: "trailing garbage", body: `${payment({ correlationId: uuid, amount: 1 })}xyz`, status: 400, field: "body" },
  {
    name: "UTF-16 encoded JSON",
    body: new Uint8Array(Buffer.from(payment({ correlationId: uuid, amount: 1 }), "utf16le")),
    status: 400,
    field: "body"
  },
  {
    name: "invalid UTF-8",
    body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    status: 400,
    field: "body"
  },
  {
    name: "a body over the limit",
    body: payment({ correlationId: uuid, amount: 1, padding: "x".repeat(8192) }),
    status: 400,
    field: "body"
  },
  {
    name: "text/plain content type",
    headers: { "content-type": "text/plain" },
    body: payment({ correlationId: uuid, amount: 1 }),
    status: 400,
    field: "content-type"
  },
  {
    name: "no content type",
    headers: {},
    body: payment({ correlationId: uuid, amount: 1 }),
    status: 400,
    field: "content-type"
  },
  {
    name: "form content type",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `correlationId=${uuid}&amount=1`,
    status: 400,
    field: "content-type"
  },
  {
    name: "a JSON look-alike content type",
    headers: { "content-type": "application/jsonp" },
    body: payment({ correlationId: uuid, amount: 1 }),
    status: 400,
    field: "content-type"
  },
  { name: "PUT /payments", method: "PUT", body: payment({ correlationId: uuid, amount: 1 }), status: 405 },
  { name: "DELETE /payments", method: "DELETE", status: 405 },
  { name: "GET /purge-payments", method: "GET", path: "/purge-payments", status: 405 },
  { name: "POST /payments/", method: "POST", path: "/payments/extra", status: 404 },
  {
    name: "summary: garbage from",
    method: "GET",
    path: "/payments-summary?from=garbage&to=2025-08-20T00:00:00Z",
    status: 400,
    field: "from"
  },
  {
    name: "summary: impossible month",
    method: "GET",
    path: "/payments-summary?from=2025-13-01T00:00:00Z&to=2025-12-01T00:00:00Z",
    status: 400,
    field: "from"
  },
  {
    name: "summary: date without time",
    method: "GET",
    path: "/payments-summary?from=2025-08-20&to=2025-08-21T00:00:00Z",
    status: 400,
    field: "from"
  },
  {
    name: "summary: bad to",
    method: "GET",
    path: "/payments-summary?from=2025-08-20T00:00:00Z&to=tomorrow",
    status: 400,
    field: "to"
  },
  {
    name: "summary: reversed bounds",
    method: "GET",
    path: "/payments-summary?from=2025-08-21T00:00:00Z&to=2025-08-20T00:00:00Z",
    status: 400,
    field: "from"
  },
  {
    name: "summary: from twice",
    method: "GET",
    path: "/payments-summary?from=2025-08-20T00:00:00Z&from=2025-08-21T00:00:00Z&to=2025-08-22T00:00:00Z",
    status: 400,
    field: "from"
  },
  {
    name: "summary: epoch number",
    method: "GET",
    path: "/payments-summary?from=1724112000000&to=1724112000001",
    status: 400,
    field: "from"
  },
  { name: "summary: wrong method", method: "POST", path: "/payments-summary", status: 405 }
]

const requestHead = (c: Case, bodyLength: number) => {
  const headers = c.headers ?? { "content-type": "application/json" }
  const lines = [`${c.method ?? "POST"} ${c.path ?? "/payments"} HTTP/1.1`, "host: localhost", "connection: close"]
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  lines.push(`content-length: ${bodyLength}`)
  return lines.join("\n") + "\n"
}

describe("bad input", () => {
  layer(apiTestLayer())((it) => {
    it.effect(`gets a 4xx with the documented error shape for each of ${cases.length} cases, and changes nothing`, () =>
      Effect.gen(function*() {
        assert.isAtLeast(cases.length, 30)
        const queue = yield* PaymentQueue
        const repository = yield* PaymentRepository
        for (const c of cases) {
          const body = typeof c.body === "string" ? new TextEncoder().encode(c.body) : c.body ?? new Uint8Array()
          const reply = yield* rawRequest(requestHead(c, body.length), body)
          assert.strictEqual(reply.status, c.status, `${c.name}: status (${reply.text})`)
          const json = JSON.parse(reply.text) as { error: string; errors?: Array<{ field: string; message: string }> }
          assert.isString(json.error, `${c.name}: error code`)
          assert.isArray(json.errors, `${c.name}: errors list`)
          if (c.field !== undefined) {
            assert.strictEqual(json.error, "invalid_request", c.name)
            assert.include(json.errors!.map((e) => e.field), c.field, `${c.name}: names the field`)
          }
          for (const e of json.errors!) assert.isString(e.message, c.name)
        }
        assert.strictEqual(yield* queue.size, 0, "nothing was enqueued")
        const summary = yield* repository.summary({})
        assert.strictEqual(summary.default.totalRequests + summary.fallback.totalRequests, 0, "nothing was stored")
      }))
  })
})

import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Option } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import type { Headers } from "effect/http"
import { TestClock } from "effect/testing"
import * as ProcessorSimulator from "../../../tools/simulator/ProcessorSimulator.ts"

interface Reply {
  readonly status: number
  readonly headers: Headers.Headers
  readonly body: string
  readonly millis: number
}

const send = Effect.fnUntraced(function*(request: HttpClientRequest.HttpClientRequest) {
  const client = yield* HttpClient.HttpClient
  const start = yield* Clock.currentTimeMillis
  const response = yield* client.execute(request)
  const body = yield* response.text
  const end = yield* Clock.currentTimeMillis
  const reply: Reply = { status: response.status, headers: response.headers, body, millis: end - start }
  return reply
})

const withSimulator = <A, E, R>(
  options: Partial<ProcessorSimulator.SimulatorOptions>,
  use: (simulator: ProcessorSimulator.SimulatorHandle) => Effect.Effect<A, E, R>
) =>
  Effect.flatMap(ProcessorSimulator.make({ fee: 0.07, ...options }), use).pipe(
    Effect.scoped,
    Effect.provide(NodeHttpClient.layerUndici)
  )

const waitFor = Effect.fnUntraced(function*<E, R>(condition: Effect.Effect<boolean, E, R>) {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (yield* condition) return
    yield* Effect.sleep("5 millis")
  }
  assert.fail("condition not reached within 2 seconds")
})

const json = (reply: Reply): unknown => JSON.parse(reply.body)

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`

const payment = (correlationId: string, amount: number | string = 20.05, requestedAt = "2025-07-15T12:00:00.000Z") => ({
  correlationId,
  amount,
  requestedAt
})

const postPayment = (simulator: ProcessorSimulator.SimulatorHandle, body: unknown) =>
  send(HttpClientRequest.post(`${simulator.url}/payments`).pipe(HttpClientRequest.bodyJsonUnsafe(body)))

const postRaw = (simulator: ProcessorSimulator.SimulatorHandle, text: string, contentType = "application/json") =>
  send(HttpClientRequest.post(`${simulator.url}/payments`).pipe(HttpClientRequest.bodyText(text, contentType)))

const getPayment = (simulator: ProcessorSimulator.SimulatorHandle, correlationId: string) =>
  send(HttpClientRequest.get(`${simulator.url}/payments/${correlationId}`))

const health = (simulator: ProcessorSimulator.SimulatorHandle) =>
  send(HttpClientRequest.get(`${simulator.url}/payments/service-health`))

const admin = (
  simulator: ProcessorSimulator.SimulatorHandle,
  method: "GET" | "PUT" | "POST",
  path: string,
  options: { readonly body?: unknown; readonly token?: string | undefined } = {}
) => {
  const token = "token" in options ? options.token : "123"
  let request = HttpClientRequest.make(method)(`${simulator.url}${path}`)
  if (token !== undefined) request = HttpClientRequest.setHeader(request, "X-Rinha-Token", token)
  if (options.body !== undefined) request = HttpClientRequest.bodyJsonUnsafe(request, options.body)
  return send(request)
}

const summaryAt = (simulator: ProcessorSimulator.SimulatorHandle, query: string) =>
  admin(simulator, "GET", `/admin/payments-summary${query}`).pipe(Effect.map(json))

const countAll = (simulator: ProcessorSimulator.SimulatorHandle) =>
  Effect.map(simulator.summary(), (summary) => summary.totalRequests)

describe("ProcessorSimulator", () => {
  it.live("accepts a payment, then answers 422 for the same correlationId", () =>
    withSimulator({}, (simulator) =>
      Effect.gen(function*() {
        const first = yield* postPayment(simulator, payment(id(1)))
        assert.strictEqual(first.status, 200)
        assert.deepStrictEqual(json(first), { message: "payment processed successfully" })

        const again = yield* postPayment(simulator, payment(id(1), 99))
        assert.strictEqual(again.status, 422)
        assert.deepStrictEqual(json(again), {
          message: `Payment could not be processed. CorrelationId already exists: ${id(1)}`
        })

        const upperCase = yield* postPayment(simulator, payment(id(1).toUpperCase()))
        assert.strictEqual(upperCase.status, 422)
        assert.deepStrictEqual(yield* simulator.summary(), {
          totalRequests: 1,
          totalAmount: 20.05,
          totalFee: 1.4035,
          feePerTransaction: 0.07
        })
      })))

  it.live("rounds amounts half away from zero to cents and sums them exactly", () =>
    withSimulator({ fee: 0.1 }, (simulator) =>
      Effect.gen(function*() {
        const amounts: ReadonlyArray<[number | string, number]> = [
          [20.055, 20.06],
          [1.005, 1.01],
          [0.1, 0.1],
          [0.2, 0.2],
          [-0.005, -0.01],
          ["3.334", 3.33],
          [1e-3, 0]
        ]
        for (const [index, [amount]] of amounts.entries()) {
          assert.strictEqual((yield* postPayment(simulator, payment(id(index), amount))).status, 200)
        }
        for (const [index, [, stored]] of amounts.entries()) {
          const reply = yield* getPayment(simulator, id(index))
          assert.strictEqual((json(reply) as { amount: number }).amount, stored)
        }
        const summary = yield* simulator.summary()
        assert.strictEqual(summary.totalRequests, 7)
        assert.strictEqual(summary.totalAmount, 24.69)
        assert.strictEqual(summary.totalFee, 2.469)
        assert.strictEqual(summary.feePerTransaction, 0.1)
      })))

  it.live("binds missing fields to .NET defaults and rejects malformed bodies", () =>
    withSimulator({}, (simulator) =>
      Effect.gen(function*() {
        const empty = yield* postPayment(simulator, {})
        assert.strictEqual(empty.status, 200)
        const stored = yield* getPayment(simulator, "00000000-0000-0000-0000-000000000000")
        assert.strictEqual(stored.status, 200)
        assert.deepStrictEqual(json(stored), {
          correlationId: "00000000-0000-0000-0000-000000000000",
          amount: 0,
          requestedAt: "0001-01-01T00:00:00.000Z"
        })

        const caseInsensitive = yield* postPayment(simulator, {
          CorrelationId: id(7),
          AMOUNT: 1.5,
          requestedat: "2025-07-15T15:00:00.250+03:00"
        })
        assert.strictEqual(caseInsensitive.status, 200)
        assert.deepStrictEqual(json(yield* getPayment(simulator, id(7))), {
          correlationId: id(7),
          amount: 1.5,
          requestedAt: "2025-07-15T12:00:00.250Z"
        })

        assert.strictEqual((yield* postRaw(simulator, "{\"correlationId\": ")).status, 400)
        assert.strictEqual((yield* postRaw(simulator, "")).status, 400)
        assert.strictEqual((yield* postRaw(simulator, "[]")).status, 400)
        assert.strictEqual((yield* postPayment(simulator, payment("not-a-guid"))).status, 400)
        assert.strictEqual((yield* postPayment(simulator, payment(id(8), "abc"))).status, 400)
        assert.strictEqual((yield* postPayment(simulator, { ...payment(id(8)), amount: null })).status, 400)
        assert.strictEqual((yield* postPayment(simulator, payment(id(8), 1, "yesterday"))).status, 400)
        assert.strictEqual((yield* postRaw(simulator, JSON.stringify(payment(id(8))), "text/plain")).status, 415)
        assert.strictEqual(yield* countAll(simulator), 2)
      })))

  it.live("holds the response for the configured delay", () =>
    withSimulator({}, (simulator) =>
      Effect.gen(function*() {
        const fast = yield* postPayment(simulator, payment(id(1)))
        assert.isBelow(fast.millis, 150)

        yield* simulator.setDelay(300)
        const slow = yield* postPayment(simulator, payment(id(2)))
        assert.strictEqual(slow.status, 200)
        assert.isAtLeast(slow.millis, 295)

        const malformed = yield* postRaw(simulator, "{")
        assert.strictEqual(malformed.status, 400)
        assert.isBelow(malformed.millis, 150)
      })))

  it.live("still records the payment when the client aborts during the delay", () =>
    withSimulator({}, (simulator) =>
      Effect.gen(function*() {
        yield* simulator.setDelay(400)
        const aborted = yield* postPayment(simulator, payment(id(1))).pipe(Effect.timeoutOption("100 millis"))
        assert.isTrue(Option.isNone(aborted))
        assert.strictEqual(yield* countAll(simulator), 0)
        assert.strictEqual((yield* simulator.stats).inFlight, 1)

        yield* waitFor(Effect.map(countAll(simulator), (count) => count === 1))
        const stored = yield* getPayment(simulator, id(1))
        assert.strictEqual(stored.status, 200)
        assert.strictEqual((yield* simulator.stats).inFlight, 0)
      })))

  it.live("fails with an empty 500 after the delay and stores nothing", () =>
    withSimulator({}, (simulator) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* postPayment(simulator, payment(id(1)))).status, 200)
        yield* simulator.setFailure(true)
        yield* simulator.setDelay(200)

        const failed = yield* postPayment(simulator, payment(id(2)))
        assert.strictEqual(failed.status, 500)
        assert.strictEqual(failed.body, "")
        assert.isAtLeast(failed.millis, 195)

        const duplicate = yield* postPayment(simulator, payment(id(1)))
        assert.strictEqual(duplicate.status, 500)
        assert.strictEqual(yield* countAll(simulator), 1)

        yield* simulator.setFailure(false)
        yield* simulator.setDelay(0)
        assert.strictEqual((yield* postPayment(simulator, payment(id(2)))).status, 200)
        assert.strictEqual(yield* countAll(simulator), 2)
      })))

  it.live("queues beyond maxInFlight and rejects beyond maxQueued with 429", () =>
    withSimulator({ maxInFlight: 2, maxQueued: 1 }, (simulator) =>
      Effect.gen(function*() {
        yield* simulator.setDelay(300)
        const replies = yield* Effect.forEach(
          [1, 2, 3, 4],
          (n) => postPayment(simulator, payment(id(n))),
          { concurrency: "unbounded" }
        )
        const rejected = replies.filter((reply) => reply.status === 429)
        const accepted = replies.filter((reply) => reply.status === 200)
        assert.strictEqual(rejected.length, 1)
        assert.strictEqual(accepted.length, 3)
        assert.strictEqual(rejected[0].headers["retry-after"], "5")
        assert.strictEqual(rejected[0].body, "Calm down, bitch. Try again later.")
        assert.isBelow(rejected[0].millis, 250)
        assert.isAtLeast(Math.max(...accepted.map((reply) => reply.millis)), 590)

        const stats = yield* simulator.stats
        assert.strictEqual(stats.rejectedTooMany, 1)
        assert.strictEqual(stats.paymentRequests, 4)
        assert.strictEqual(stats.inFlight, 0)
        assert.strictEqual(yield* countAll(simulator), 3)
      })))

  it.live("frees the queue slot of a client that gives up while queued", () =>
    withSimulator({ maxInFlight: 1, maxQueued: 1 }, (simulator) =>
      Effect.gen(function*() {
        yield* simulator.setDelay(300)
        const first = yield* Effect.forkChild(postPayment(simulator, payment(id(1))))
        yield* waitFor(Effect.map(simulator.stats, (stats) => stats.inFlight === 1))

        const gaveUp = yield* postPayment(simulator, payment(id(2))).pipe(Effect.timeoutOption("100 millis"))
        assert.isTrue(Option.isNone(gaveUp))
        yield* Effect.sleep("30 millis")

        const third = yield* postPayment(simulator, payment(id(3)))
        assert.strictEqual(third.status, 200)
        assert.strictEqual((yield* Fiber.join(first)).status, 200)
        assert.strictEqual((yield* getPayment(simulator, id(2))).status, 404)
        assert.strictEqual(yield* countAll(simulator), 2)
        assert.strictEqual((yield* simulator.stats).rejectedTooMany, 0)
      })))

  it.live("GET /payments/{id} answers 200, 404 and 400 and shares the concurrency limiter", () =>
    withSimulator({ maxInFlight: 1, maxQueued: 0 }, (simulator) =>
      Effect.gen(function*() {
        yield* postPayment(simulator, payment(id(1), 20.05, "2025-07-15T12:34:56.789Z"))
        const found = yield* getPayment(simulator, id(1))
        assert.strictEqual(found.status, 200)
        assert.deepStrictEqual(json(found), {
          correlationId: id(1),
          amount: 20.05,
          requestedAt: "2025-07-15T12:34:56.789Z"
        })
        assert.strictEqual((yield* getPayment(simulator, id(1).replaceAll("-", ""))).status, 200)
        assert.strictEqual((yield* getPayment(simulator, id(2))).status, 404)
        assert.strictEqual((yield* getPayment(simulator, "nope")).status, 400)

        yield* simulator.setDelay(300)
        const slow = yield* Effect.forkChild(postPayment(simulator, payment(id(3))))
        yield* waitFor(Effect.map(simulator.stats, (stats) => stats.inFlight === 1))
        const busy = yield* getPayment(simulator, id(1))
        assert.strictEqual(busy.status, 429)
        assert.strictEqual(busy.headers["retry-after"], "5")
        assert.strictEqual((yield* Fiber.join(slow)).status, 200)
      })))

  it.effect("health: exact config, 1 permit per 5 s window, 2 queued FIFO, then 429 (TestClock)", () =>
    withSimulator({}, (simulator) =>
      Effect.gen(function*() {
        const done: Array<Reply> = []
        const request = health(simulator).pipe(Effect.tap((reply) => Effect.sync(() => done.push(reply))))
        const waitForReplies = (count: number) => TestClock.withLive(waitFor(Effect.sync(() => done.length === count)))

        yield* Effect.forkChild(request)
        yield* waitForReplies(1)
        for (let n = 0; n < 3; n++) yield* Effect.forkChild(request)
        yield* waitForReplies(2)
        yield* TestClock.withLive(Effect.sleep("50 millis"))
        assert.strictEqual(done.length, 2)
        assert.strictEqual(done[0].status, 200)
        assert.deepStrictEqual(json(done[0]), { failing: false, minResponseTime: 0 })
        assert.strictEqual(done[1].status, 429)
        assert.strictEqual(done[1].headers["retry-after"], "5")
        assert.strictEqual(done[1].body, "Calm down, bitch. Try again later.")

        yield* simulator.setDelay(1234)
        yield* simulator.setFailure(true)
        yield* TestClock.adjust("5 seconds")
        yield* waitForReplies(3)
        assert.strictEqual(done[2].status, 200)
        assert.deepStrictEqual(json(done[2]), { failing: true, minResponseTime: 1234 })

        yield* TestClock.adjust("4999 millis")
        yield* TestClock.withLive(Effect.sleep("50 millis"))
        assert.strictEqual(done.length, 3)
        yield* TestClock.adjust("1 millis")
        yield* waitForReplies(4)
        assert.strictEqual(done[3].status, 200)

        yield* TestClock.adjust("5 seconds")
        yield* request
        assert.strictEqual(done[4].status, 200)
        assert.deepStrictEqual(yield* simulator.stats, {
          paymentRequests: 0,
          healthRequests: 5,
          healthRejected: 1,
          rejectedTooMany: 0,
          inFlight: 0
        })
      })))

  it.live("health: queued requests hang for one and two windows (live clock)", () =>
    withSimulator({ healthRateLimit: "300 millis" }, (simulator) =>
      Effect.gen(function*() {
        const replies = yield* Effect.forEach([1, 2, 3, 4], () => health(simulator), { concurrency: "unbounded" })
        const byTime = replies.toSorted((a, b) => a.millis - b.millis)
        assert.deepStrictEqual(byTime.map((reply) => reply.status).toSorted(), [200, 200, 200, 429])
        const served = byTime.filter((reply) => reply.status === 200)
        const rejected = byTime.filter((reply) => reply.status === 429)
        assert.strictEqual(rejected[0].headers["retry-after"], "1")
        assert.isBelow(served[0].millis, 150)
        assert.isBelow(rejected[0].millis, 150)
        assert.isAtLeast(served[2].millis - served[1].millis, 250)
        assert.isBelow(served[2].millis, 800)
      })))

  it.live("admin endpoints require the current X-Rinha-Token", () =>
    withSimulator({ token: "secret" }, (simulator) =>
      Effect.gen(function*() {
        const calls = [
          ["GET", "/admin/payments-summary", undefined],
          ["PUT", "/admin/configurations/token", { token: "x" }],
          ["PUT", "/admin/configurations/delay", { delay: 10 }],
          ["PUT", "/admin/configurations/failure", { failure: true }],
          ["POST", "/admin/purge-payments", undefined]
        ] as const
        for (const [method, path, body] of calls) {
          assert.strictEqual((yield* admin(simulator, method, path, { body, token: undefined })).status, 401, path)
          assert.strictEqual((yield* admin(simulator, method, path, { body, token: "123" })).status, 401, path)
          assert.strictEqual((yield* admin(simulator, method, path, { body, token: "SECRET" })).status, 401, path)
        }
        assert.deepStrictEqual(json(yield* health(simulator)), { failing: false, minResponseTime: 0 })

        const ok = yield* admin(simulator, "GET", "/admin/payments-summary", { token: "secret" })
        assert.strictEqual(ok.status, 200)

        const changed = yield* admin(simulator, "PUT", "/admin/configurations/token", {
          body: { token: "new-token" },
          token: "secret"
        })
        assert.strictEqual(changed.status, 204)
        assert.strictEqual(changed.body, "")
        assert.strictEqual((yield* admin(simulator, "GET", "/admin/payments-summary", { token: "secret" })).status, 401)
        assert.strictEqual(
          (yield* admin(simulator, "GET", "/admin/payments-summary", { token: "new-token" })).status,
          200
        )
      })))

  it.live("admin configuration: delay and failure bodies, purge", () =>
    withSimulator({ healthRateLimit: "10 millis" }, (simulator) =>
      Effect.gen(function*() {
        const delay = yield* admin(simulator, "PUT", "/admin/configurations/delay", { body: { delay: 250 } })
        assert.strictEqual(delay.status, 200)
        assert.deepStrictEqual(json(delay), { config: "delay", was: 0, is: 250 })
        const delayAgain = yield* admin(simulator, "PUT", "/admin/configurations/delay", { body: { delay: 0 } })
        assert.deepStrictEqual(json(delayAgain), { config: "delay", was: 250, is: 0 })

        const failure = yield* admin(simulator, "PUT", "/admin/configurations/failure", { body: { failure: true } })
        assert.strictEqual(failure.status, 200)
        assert.deepStrictEqual(json(failure), { config: "failure", was: false, is: true })
        assert.deepStrictEqual(json(yield* health(simulator)), { failing: true, minResponseTime: 0 })
        assert.strictEqual((yield* postPayment(simulator, payment(id(1)))).status, 500)
        yield* admin(simulator, "PUT", "/admin/configurations/failure", { body: { failure: false } })

        assert.strictEqual(
          (yield* admin(simulator, "PUT", "/admin/configurations/delay", { body: { delay: 1.5 } })).status,
          400
        )
        assert.strictEqual(
          (yield* admin(simulator, "PUT", "/admin/configurations/failure", { body: { failure: "yes" } })).status,
          400
        )
        assert.strictEqual(
          (yield* admin(simulator, "PUT", "/admin/configurations/delay", { body: { delay: "x" }, token: "bad" }))
            .status,
          400
        )

        yield* postPayment(simulator, payment(id(2)))
        yield* postPayment(simulator, payment(id(3)))
        assert.strictEqual(yield* countAll(simulator), 2)
        const purged = yield* admin(simulator, "POST", "/admin/purge-payments")
        assert.strictEqual(purged.status, 200)
        assert.deepStrictEqual(json(purged), { message: "All payments purged." })
        assert.deepStrictEqual(yield* summaryAt(simulator, ""), {
          totalAmount: 0,
          totalRequests: 0,
          totalFee: 0,
          feePerTransaction: 0.07
        })
        assert.strictEqual((yield* postPayment(simulator, payment(id(2)))).status, 200)
      })))

  it.live("summary filters requestedAt inclusively; a missing bound means all rows", () =>
    withSimulator({}, (simulator) =>
      Effect.gen(function*() {
        const t1 = "2025-07-15T12:00:00.000Z"
        const t2 = "2025-07-15T12:00:01.500Z"
        const t3 = "2025-07-15T12:00:02.000Z"
        yield* postPayment(simulator, payment(id(1), 10, t1))
        yield* postPayment(simulator, payment(id(2), 20.05, t2))
        yield* postPayment(simulator, payment(id(3), 0.01, t3))

        const counted = (query: string) =>
          Effect.map(summaryAt(simulator, query), (summary) => (summary as { totalRequests: number }).totalRequests)
        assert.deepStrictEqual(yield* summaryAt(simulator, `?from=${t1}&to=${t2}`), {
          totalAmount: 30.05,
          totalRequests: 2,
          totalFee: 2.1035,
          feePerTransaction: 0.07
        })
        assert.strictEqual(yield* counted(`?from=${t2}&to=${t2}`), 1)
        assert.strictEqual(yield* counted(`?from=2025-07-15T12:00:01.501Z&to=${t3}`), 1)
        assert.strictEqual(yield* counted(`?from=${t3}&to=${t1}`), 0)
        assert.strictEqual(yield* counted(`?from=2025-07-15T15:00:00.000%2B03:00&to=${t1}`), 1)
        assert.strictEqual(yield* counted(""), 3)
        assert.strictEqual(yield* counted(`?from=${t3}`), 3)
        assert.strictEqual(yield* counted(`?to=${t1}`), 3)
        assert.strictEqual(yield* counted(`?from=&to=${t1}`), 3)
        assert.strictEqual(yield* counted(`?FROM=${t2}&To=${t3}`), 2)
        assert.strictEqual((yield* admin(simulator, "GET", "/admin/payments-summary?from=nope&to=x")).status, 400)

        const between = yield* simulator.summary({ from: new Date(t2), to: new Date(t3) })
        assert.deepStrictEqual(between, {
          totalRequests: 2,
          totalAmount: 20.06,
          totalFee: 1.4042,
          feePerTransaction: 0.07
        })
        assert.strictEqual((yield* simulator.summary({ from: new Date(t3) })).totalRequests, 3)
        yield* simulator.purge
        assert.strictEqual(yield* countAll(simulator), 0)
      })))

  it.live("serves an HTML info page at /", () =>
    withSimulator({}, (simulator) =>
      Effect.gen(function*() {
        const page = yield* send(HttpClientRequest.get(simulator.url))
        assert.strictEqual(page.status, 200)
        assert.match(page.headers["content-type"] ?? "", /^text\/html/)
        assert.include(page.body, "POST /payments")
      })))
})

import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { HttpClientRequest } from "effect/http"
import { PaymentQueue } from "../../src/payments/PaymentQueue.ts"
import { PaymentRepository } from "../../src/payments/PaymentRepository.ts"
import { apiTestLayer, get, jsonOf, postJson, send } from "../support/api.ts"

const id = (n: number) => `6f1e2d3c-4b5a-4978-8a6b-${String(n).padStart(12, "0")}`
const body = (n: number, amount = 20.05) => JSON.stringify({ correlationId: id(n), amount })

describe("POST /payments", () => {
  layer(apiTestLayer({ queueCapacity: 3 }))((it) => {
    it.effect("accepts a valid payment with 202 and enqueues it once, answering 202 again for a duplicate", () =>
      Effect.gen(function*() {
        const queue = yield* PaymentQueue
        yield* queue.purge
        const first = yield* postJson("/payments", body(1))
        assert.strictEqual(first.status, 202)
        assert.strictEqual(first.text, "")
        assert.strictEqual(yield* queue.size, 1)
        const again = yield* postJson("/payments", body(1))
        assert.strictEqual(again.status, 202)
        assert.strictEqual(yield* queue.size, 1, "the duplicate is not enqueued again")
        const job = yield* queue.take
        assert.deepStrictEqual(job.payment, { correlationId: id(1), amount: 20.05 })
        yield* queue.complete(job)
      }))

    it.effect("answers 503 queue_full once the queue holds its capacity, and enqueues nothing more", () =>
      Effect.gen(function*() {
        const queue = yield* PaymentQueue
        yield* queue.purge
        for (const n of [10, 11, 12]) assert.strictEqual((yield* postJson("/payments", body(n))).status, 202)
        const full = yield* postJson("/payments", body(13))
        assert.strictEqual(full.status, 503)
        assert.deepStrictEqual(jsonOf(full), { error: "queue_full" })
        assert.strictEqual(yield* queue.size, 3)
        const retried = yield* postJson("/payments", body(13))
        assert.strictEqual(retried.status, 503, "a rejected payment was not remembered as held")
        yield* queue.purge
        assert.strictEqual((yield* postJson("/payments", body(13))).status, 202)
        yield* queue.purge
      }))

    it.effect("lists every problem of an invalid payment", () =>
      Effect.gen(function*() {
        const reply = yield* postJson("/payments", JSON.stringify({ correlationId: "nope", amount: 0.001 }))
        assert.strictEqual(reply.status, 400)
        assert.deepStrictEqual(jsonOf(reply), {
          error: "invalid_request",
          errors: [
            { field: "correlationId", message: "Expected a UUID" },
            { field: "amount", message: "Expected a number with at most 2 decimal places" }
          ]
        })
      }))

    it.effect("accepts a JSON content type with parameters and ignores unknown fields", () =>
      Effect.gen(function*() {
        const queue = yield* PaymentQueue
        yield* queue.purge
        const reply = yield* postJson(
          "/payments",
          JSON.stringify({ correlationId: id(20), amount: 1, note: "x" }),
          "application/json; charset=utf-8"
        )
        assert.strictEqual(reply.status, 202)
        assert.strictEqual(yield* queue.size, 1)
        yield* queue.purge
      }))
  })
})

describe("GET /payments-summary", () => {
  layer(apiTestLayer())((it) => {
    const seed = Effect.gen(function*() {
      const repository = yield* PaymentRepository
      yield* repository.purge
      yield* repository.insertMany([
        { correlationId: id(1), amount: 0.1, processor: "default", requestedAt: new Date("2025-08-20T12:00:00.000Z") },
        { correlationId: id(2), amount: 0.2, processor: "default", requestedAt: new Date("2025-08-20T12:00:01.000Z") },
        { correlationId: id(3), amount: 19.9, processor: "fallback", requestedAt: new Date("2025-08-20T12:00:02.000Z") }
      ])
    })

    it.effect("sums every payment when no bound is given, exactly", () =>
      Effect.gen(function*() {
        yield* seed
        const reply = yield* get("/payments-summary")
        assert.strictEqual(reply.status, 200)
        assert.deepStrictEqual(jsonOf(reply), {
          default: { totalRequests: 2, totalAmount: 0.3 },
          fallback: { totalRequests: 1, totalAmount: 19.9 }
        })
      }))

    it.effect("filters inclusively on both bounds", () =>
      Effect.gen(function*() {
        yield* seed
        const reply = yield* get("/payments-summary?from=2025-08-20T12:00:01.000Z&to=2025-08-20T12:00:02.000Z")
        assert.deepStrictEqual(jsonOf(reply), {
          default: { totalRequests: 1, totalAmount: 0.2 },
          fallback: { totalRequests: 1, totalAmount: 19.9 }
        })
        const one = yield* get("/payments-summary?from=2025-08-20T12:00:00.000Z&to=2025-08-20T12:00:00.000Z")
        assert.deepStrictEqual(jsonOf(one), {
          default: { totalRequests: 1, totalAmount: 0.1 },
          fallback: { totalRequests: 0, totalAmount: 0 }
        })
      }))

    it.effect("treats a missing bound as no filter, as the processors do", () =>
      Effect.gen(function*() {
        yield* seed
        const reply = yield* get("/payments-summary?from=2025-08-20T12:00:02.000Z")
        assert.strictEqual(reply.status, 200)
        assert.strictEqual((jsonOf(reply) as { default: { totalRequests: number } }).default.totalRequests, 2)
      }))

    it.effect("rejects an invalid or reversed range with the documented error shape", () =>
      Effect.gen(function*() {
        const bad = yield* get("/payments-summary?from=yesterday&to=2025-08-20T12:00:02.000Z")
        assert.strictEqual(bad.status, 400)
        assert.deepStrictEqual(jsonOf(bad), {
          error: "invalid_request",
          errors: [{ field: "from", message: "Expected an ISO-8601 instant such as 2025-08-20T12:34:56.789Z" }]
        })
        const reversed = yield* get("/payments-summary?from=2025-08-20T12:00:02.000Z&to=2025-08-20T12:00:01.000Z")
        assert.strictEqual(reversed.status, 400)
        assert.deepStrictEqual(jsonOf(reversed), {
          error: "invalid_request",
          errors: [{ field: "from", message: "must not be after to" }]
        })
      }))

    it.effect("purge clears the stored payments and the queue", () =>
      Effect.gen(function*() {
        yield* seed
        assert.strictEqual((yield* postJson("/payments", body(99))).status, 202)
        const reply = yield* send(HttpClientRequest.post("/purge-payments"))
        assert.strictEqual(reply.status, 200)
        assert.deepStrictEqual(jsonOf(reply), { purged: true, droppedFromQueue: 1 })
        assert.strictEqual(yield* (yield* PaymentQueue).size, 0)
        const summary = yield* get("/payments-summary")
        assert.deepStrictEqual(jsonOf(summary), {
          default: { totalRequests: 0, totalAmount: 0 },
          fallback: { totalRequests: 0, totalAmount: 0 }
        })
      }))
  })
})

describe("system endpoints", () => {
  layer(apiTestLayer())((it) => {
    it.effect("health and readiness answer 200", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(jsonOf(yield* get("/health")), { status: "ok" })
        const ready = yield* get("/ready")
        assert.strictEqual(ready.status, 200)
        assert.deepStrictEqual(jsonOf(ready), { status: "ready" })
      }))

    it.effect("unknown paths are 404 and known paths with another method 405, both as JSON errors", () =>
      Effect.gen(function*() {
        const missing = yield* get("/nope")
        assert.strictEqual(missing.status, 404)
        assert.deepStrictEqual(jsonOf(missing), {
          error: "not_found",
          errors: [{ field: "path", message: "no route for GET /nope" }]
        })
        const wrong = yield* get("/payments")
        assert.strictEqual(wrong.status, 405)
        assert.strictEqual(wrong.headers["allow"], "POST")
        assert.strictEqual((jsonOf(wrong) as { error: string }).error, "method_not_allowed")
        const wrongSummary = yield* send(HttpClientRequest.delete("/payments-summary"))
        assert.strictEqual(wrongSummary.status, 405)
        assert.strictEqual(wrongSummary.headers["allow"], "GET, HEAD")
      }))

    it.effect("/metrics exposes the service's metrics in Prometheus text", () =>
      Effect.gen(function*() {
        yield* postJson("/payments", body(500))
        yield* postJson("/payments", "{")
        const reply = yield* get("/metrics")
        assert.strictEqual(reply.status, 200)
        assert.match(reply.headers["content-type"], /^text\/plain/)
        // the API and the queue's series; the workers', the gateway's and the recorder's show once those start, which
        // the dashboard test checks against the real service (test/infra/Observability.test.ts)
        for (
          const name of [
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "payment_queue_length",
            "payment_jobs_in_flight",
            "payments_enqueued_total",
            "payments_rejected_total",
            "payment_queue_wait_seconds"
          ]
        ) {
          assert.include(reply.text, `# TYPE ${name.replace(/_bucket$/, "")} `)
        }
        assert.match(reply.text, /http_requests_total\{method="POST",route="\/payments",status="202"\} [1-9]/)
        assert.match(reply.text, /http_requests_total\{method="POST",route="\/payments",status="400"\} [1-9]/)
        assert.match(reply.text, /payments_enqueued_total [1-9]/)
      }))

    it.effect("http_requests_total is the duration histogram's count for each label set, scrape after scrape", () =>
      Effect.gen(function*() {
        const counts = (text: string, name: string) =>
          new Map([...text.matchAll(new RegExp(`^${name}\\{(.*)\\} (\\d+)$`, "gm"))].map((m) => [m[1], Number(m[2])]))
        const accepted = `method="POST",route="/payments",status="202"`
        yield* postJson("/payments", body(501))
        yield* postJson("/payments", "{")
        const first = (yield* get("/metrics")).text
        yield* postJson("/payments", body(502))
        yield* get("/nope")
        const second = (yield* get("/metrics")).text
        for (const text of [first, second]) {
          const requests = counts(text, "http_requests_total")
          assert.isAbove(requests.size, 2)
          assert.deepStrictEqual(requests, counts(text, "http_request_duration_seconds_count"))
        }
        assert.strictEqual(
          counts(second, "http_requests_total").get(accepted),
          (counts(first, "http_requests_total").get(accepted) ?? 0) + 1
        )
      }))
  })
})

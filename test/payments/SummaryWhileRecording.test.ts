import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Latch, Layer } from "effect"
import { ApiServer } from "../../src/Api.ts"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { PaymentIntake } from "../../src/payments/PaymentIntake.ts"
import { PaymentQueue } from "../../src/payments/PaymentQueue.ts"
import { PaymentRecorder } from "../../src/payments/PaymentRecorder.ts"
import { PaymentRepository } from "../../src/payments/PaymentRepository.ts"
import { get, jsonOf } from "../support/api.ts"

/** The in-memory repository, its inserts held while `gate` is closed and slowed by `writeDelay`. */
const gatedRepository = (gate: Latch.Latch, writeDelay: Duration.Input) =>
  Layer.effect(
    PaymentRepository,
    Effect.map(Effect.service(PaymentRepository), (repository) =>
      PaymentRepository.of({
        ...repository,
        insertMany: (payments) =>
          gate.await.pipe(Effect.andThen(Effect.sleep(writeDelay)), Effect.andThen(repository.insertMany(payments)))
      }))
  ).pipe(Layer.provide(PaymentRepository.layerTest))

const api = (gate: Latch.Latch) =>
  ApiServer.pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(PaymentRecorder.layer),
    Layer.provideMerge(PaymentIntake.layerMemory),
    Layer.provideMerge(PaymentQueue.layer),
    Layer.provideMerge(gatedRepository(gate, "150 millis")),
    Layer.provideMerge(Metrics.layerTest),
    Layer.provideMerge(AppConfig.layerTest({ summaryRecordWait: Duration.millis(400) }))
  )

const payment = (requestedAt: Date) => ({
  correlationId: crypto.randomUUID(),
  amount: 19.9,
  processor: "default" as const,
  requestedAt
})

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const result = yield* effect
    return { result, millis: (yield* Clock.currentTimeMillis) - startedAt }
  })

describe("GET /payments-summary while payments are being recorded", () => {
  it.live("is exact or 503: it waits for what the recorder holds in its range, and answers at once when none is", () =>
    Effect.gen(function*() {
      const gate = yield* Latch.make(true)
      yield* Effect.gen(function*() {
        const recorder = yield* PaymentRecorder
        const now = new Date(yield* Clock.currentTimeMillis)

        const idle = yield* timed(get("/payments-summary"))
        assert.strictEqual(idle.result.status, 200)
        assert.isBelow(idle.millis, 100, "nothing pending: no wait")

        yield* recorder.record(payment(now))
        const writing = yield* get("/payments-summary")
        assert.strictEqual(writing.status, 200, "a write that ends within the wait is waited for")
        assert.deepStrictEqual(jsonOf(writing), {
          default: { totalRequests: 1, totalAmount: 19.9 },
          fallback: { totalRequests: 0, totalAmount: 0 }
        })

        yield* gate.close
        yield* recorder.record(payment(now))
        const stuck = yield* timed(get("/payments-summary"))
        assert.strictEqual(stuck.result.status, 503, "the store is behind: no low totals")
        assert.isAtLeast(stuck.millis, 400, "after waiting SUMMARY_RECORD_WAIT")
        assert.deepStrictEqual(jsonOf(stuck.result), {
          error: "unavailable",
          errors: [{
            field: "service",
            message: "payments the processors accepted are not recorded yet (the payments store is behind or down)"
          }]
        })

        // the official check asks for a window ending 2 s ago: a payment still unwritten after it does not matter
        const before = (ms: number) => new Date(now.getTime() - ms).toISOString()
        const earlier = yield* timed(get(`/payments-summary?from=${before(15_000)}&to=${before(2_000)}`))
        assert.strictEqual(earlier.result.status, 200, "nothing pending in that window: exact at once")
        assert.isBelow(earlier.millis, 100)

        yield* gate.open
        const caughtUp = yield* get("/payments-summary")
        assert.strictEqual(caughtUp.status, 200)
        assert.deepStrictEqual(jsonOf(caughtUp), {
          default: { totalRequests: 2, totalAmount: 39.8 },
          fallback: { totalRequests: 0, totalAmount: 0 }
        })
      }).pipe(Effect.provide(api(gate)))
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Latch, Layer } from "effect"
import { TestClock } from "effect/testing"
import { AppConfig, type AppSettings } from "../../src/config/AppConfig.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import type { RecordedPayment } from "../../src/payments/Payment.ts"
import { PaymentIntake } from "../../src/payments/PaymentIntake.ts"
import { PaymentRecorder } from "../../src/payments/PaymentRecorder.ts"
import { PaymentRepository, type RecorderMark } from "../../src/payments/PaymentRepository.ts"
import { stub } from "../support/stub.ts"

const payment = (n: number, requestedAt = 0): RecordedPayment => ({
  correlationId: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
  amount: 10.05,
  processor: n % 2 === 0 ? "fallback" : "default",
  requestedAt: new Date(requestedAt)
})

/**
 * The recorder over the in-memory repository, its inserts held while `gate` is closed; `inserts` and `recorded`
 * collect each statement's rows and what the intake was told, in order.
 */
const recorderWith = (gate: Latch.Latch, settings: Partial<AppSettings> = {}) => {
  const inserts: Array<ReadonlyArray<RecordedPayment>> = []
  const marks: Array<RecorderMark | undefined> = []
  const recorded: Array<ReadonlyArray<string>> = []
  const repository = Layer.effect(
    PaymentRepository,
    Effect.map(Effect.service(PaymentRepository), (repository) =>
      PaymentRepository.of({
        ...repository,
        insertMany: (payments, mark) =>
          gate.await.pipe(
            Effect.andThen(Effect.sync(() => {
              inserts.push(payments)
              marks.push(mark)
            })),
            Effect.andThen(repository.insertMany(payments, mark))
          )
      }))
  ).pipe(Layer.provide(PaymentRepository.layerTest))
  const intake = stub(PaymentIntake, { recorded: (ids) => Effect.sync(() => recorded.push(ids)) })
  const layer = PaymentRecorder.layer.pipe(
    Layer.provideMerge(repository),
    Layer.provide(intake),
    Layer.provide(Metrics.layerTest),
    Layer.provide(AppConfig.layerTest({ recordInterval: Duration.millis(100), ...settings }))
  )
  return { layer, inserts, marks, recorded }
}

// until the recorder holds nothing: written and the intake told (its shutdown waits for that on the test clock)
const drained = (recorder: PaymentRecorder["Service"]) =>
  recorder.pending.pipe(Effect.tap(() => Effect.yieldNow), Effect.repeat({ until: (pending) => pending === 0 }))

describe("PaymentRecorder", () => {
  it.effect("writes what it is handed, stamped with when its answer arrived, and tells the intake", () =>
    Effect.gen(function*() {
      const gate = yield* Latch.make(true)
      const { inserts, layer, recorded } = recorderWith(gate)
      yield* Effect.gen(function*() {
        const recorder = yield* PaymentRecorder
        yield* TestClock.setTime(5_000)
        yield* recorder.record(payment(1))
        assert.isTrue(yield* recorder.awaitWritten({}, "1 second"))
        yield* drained(recorder)
        assert.deepStrictEqual(inserts, [[{ ...payment(1), answeredAt: new Date(5_000) }]])
        assert.deepStrictEqual(recorded, [[payment(1).correlationId]])
        assert.deepStrictEqual((yield* (yield* PaymentRepository).summary({})).default, {
          totalRequests: 1,
          totalAmount: 10.05
        })
      }).pipe(Effect.provide(layer))
    }))

  it.effect("sends what arrives in the interval after an insert together, in the next statement", () =>
    Effect.gen(function*() {
      const gate = yield* Latch.make(true)
      const { inserts, layer } = recorderWith(gate)
      yield* Effect.gen(function*() {
        const recorder = yield* PaymentRecorder
        yield* recorder.record(payment(1))
        assert.isTrue(yield* recorder.awaitWritten({}, "1 second"), "a lone payment is written at once")
        yield* drained(recorder)
        yield* recorder.record(payment(2))
        yield* recorder.record(payment(3))
        assert.strictEqual(yield* recorder.pending, 2)
        yield* TestClock.adjust("100 millis")
        assert.isTrue(yield* recorder.awaitWritten({}, "1 second"))
        yield* drained(recorder)
        assert.deepStrictEqual(inserts.map((rows) => rows.map((row) => row.correlationId)), [
          [payment(1).correlationId],
          [payment(2).correlationId, payment(3).correlationId]
        ])
      }).pipe(Effect.provide(layer))
    }))

  it.effect("writes at once, without the rest of the interval, when someone waits for what it holds", () =>
    Effect.gen(function*() {
      const gate = yield* Latch.make(true)
      const { inserts, layer } = recorderWith(gate)
      yield* Effect.gen(function*() {
        const recorder = yield* PaymentRecorder
        yield* recorder.record(payment(1))
        yield* drained(recorder)
        yield* recorder.record(payment(2))
        const waiting = yield* Effect.forkChild(recorder.awaitWritten({}, "1 second"))
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(inserts.map((rows) => rows.map((row) => row.correlationId)), [
          [payment(1).correlationId],
          [payment(2).correlationId]
        ], "the second statement 1 ms after the first, not 100")
        assert.isTrue(yield* Fiber.join(waiting))
        // the interval holds again for what nobody waits for
        yield* recorder.record(payment(3))
        yield* TestClock.adjust("98 millis")
        assert.strictEqual(inserts.length, 2)
        yield* TestClock.adjust("1 millis")
        yield* drained(recorder)
        assert.strictEqual(inserts.length, 3)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("waits only for the payments in the range asked, and says false when they are not written in time", () =>
    Effect.gen(function*() {
      const gate = yield* Latch.make(false)
      const { layer } = recorderWith(gate)
      yield* Effect.gen(function*() {
        const recorder = yield* PaymentRecorder
        yield* TestClock.setTime(60_000)
        yield* recorder.record(payment(1, 10_000))
        const outside = { from: new Date(20_000), to: new Date(30_000) }
        assert.isTrue(yield* recorder.awaitWritten(outside, "1 second"), "nothing pending in that range")
        const stuck = yield* Effect.forkChild(recorder.awaitWritten({ to: new Date(10_000) }, "300 millis"))
        yield* TestClock.adjust("300 millis")
        assert.isFalse(yield* Fiber.join(stuck))
        assert.strictEqual(recorder.mark(70_000).writtenThrough.getTime(), 60_000, "the oldest unwritten answer")
        yield* gate.open
        assert.isTrue(yield* recorder.awaitWritten({}, "1 second"))
        assert.strictEqual(recorder.mark(70_000).writtenThrough.getTime(), 70_000, "nothing unwritten: now")
        yield* drained(recorder)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("each statement carries the mark as it stands once its rows are in", () =>
    Effect.gen(function*() {
      const gate = yield* Latch.make(false)
      const { layer, marks } = recorderWith(gate, { recordBatchSize: 1 })
      yield* Effect.gen(function*() {
        const recorder = yield* PaymentRecorder
        yield* TestClock.setTime(60_000)
        yield* recorder.record(payment(1))
        yield* Effect.yieldNow
        yield* TestClock.adjust("1 second")
        yield* recorder.record(payment(2))
        yield* TestClock.adjust("1 second")
        yield* recorder.record(payment(3))
        yield* gate.open
        // one payment a statement: the second is written while the third waits, answered at 62,000
        yield* TestClock.adjust("100 millis")
        yield* TestClock.adjust("100 millis")
        yield* drained(recorder)
        assert.deepStrictEqual(marks.map((mark) => mark?.writtenThrough.getTime()), [60_000, 62_000, 62_200])
        assert.strictEqual(recorder.markedAt(), 62_200)
        assert.isTrue(marks.every((mark) => mark?.recorder === recorder.recorderId))
        assert.strictEqual(recorder.mark(63_000).writtenThrough.getTime(), 63_000, "nothing unwritten: now")
        assert.strictEqual(recorder.markedAt(), 62_200, "a mark taken to publish is not one written")
      }).pipe(Effect.provide(layer))
    }))
})

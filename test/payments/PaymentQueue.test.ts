import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { PaymentQueue } from "../../src/payments/PaymentQueue.ts"

const queueOf = (queueCapacity: number) =>
  PaymentQueue.layer.pipe(Layer.provide(Metrics.layerTest), Layer.provide(AppConfig.layerTest({ queueCapacity })))

const payment = (n: number) => ({ correlationId: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`, amount: 1 })

describe("PaymentQueue", () => {
  it.effect("accepts a payment once: the same correlationId again is a duplicate and not queued twice", () =>
    Effect.gen(function*() {
      const queue = yield* PaymentQueue
      assert.strictEqual(yield* queue.offer(payment(1)), "accepted")
      assert.strictEqual(yield* queue.offer(payment(1)), "duplicate")
      assert.strictEqual(yield* queue.size, 1)
      const job = yield* queue.take
      assert.deepStrictEqual(job.payment, payment(1))
      assert.strictEqual(yield* queue.offer(payment(1)), "duplicate", "in flight it is still known")
    }).pipe(Effect.provide(queueOf(10))))

  it.effect("fails with QueueFull at capacity, and says how much room is left", () =>
    Effect.gen(function*() {
      const queue = yield* PaymentQueue
      assert.strictEqual(yield* queue.room, 2)
      yield* queue.offer(payment(1))
      yield* queue.offer(payment(2))
      assert.isTrue(yield* queue.isFull)
      assert.strictEqual(yield* queue.room, 0)
      const error = yield* Effect.flip(queue.offer(payment(3)))
      assert.strictEqual(error._tag, "QueueFull")
      yield* queue.take
      assert.strictEqual(yield* queue.offer(payment(3)), "accepted", "a refused payment was not remembered")
    }).pipe(Effect.provide(queueOf(2))))

  it.effect("counts what is taken as in flight until completed, and is idle only with nothing queued or in flight", () =>
    Effect.gen(function*() {
      const queue = yield* PaymentQueue
      yield* queue.offer(payment(1))
      const idle = yield* Effect.forkChild(queue.awaitIdle)
      const job = yield* queue.take
      assert.strictEqual(yield* queue.inFlight, 1)
      assert.strictEqual(yield* queue.size, 0)
      yield* TestClock.adjust("1 second")
      assert.isUndefined(idle.pollUnsafe(), "a payment is still in flight")
      yield* queue.complete(job)
      assert.strictEqual(yield* queue.inFlight, 0)
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(idle)
    }).pipe(Effect.provide(queueOf(10))))

  it.effect("purge drops what waits, says how many, and forgets every correlationId it knew", () =>
    Effect.gen(function*() {
      const queue = yield* PaymentQueue
      yield* queue.offer(payment(1))
      yield* queue.offer(payment(2))
      assert.strictEqual(yield* queue.purge, 2)
      assert.strictEqual(yield* queue.size, 0)
      assert.strictEqual(yield* queue.offer(payment(1)), "accepted")
    }).pipe(Effect.provide(queueOf(10))))

  it.effect("restores a payment taken over with where it was last sent, and knows it from then on", () =>
    Effect.gen(function*() {
      const queue = yield* PaymentQueue
      const attempt = { processor: "fallback" as const, requestedAt: new Date(0) }
      yield* queue.restore(payment(1), attempt)
      yield* queue.restore(payment(2), undefined)
      assert.strictEqual(yield* queue.offer(payment(1)), "duplicate")
      const first = yield* queue.take
      const second = yield* queue.take
      assert.deepStrictEqual(first.attempt, attempt)
      assert.isFalse("attempt" in second)
    }).pipe(Effect.provide(queueOf(10))))

  it.effect("wakes the taker that went idle last, one per payment; an interrupted taker leaves no place behind", () =>
    Effect.gen(function*() {
      const queue = yield* PaymentQueue
      const first = yield* Effect.forkChild(queue.take)
      const second = yield* Effect.forkChild(queue.take)
      const third = yield* Effect.forkChild(queue.take)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(third)
      yield* queue.offer(payment(1))
      const taken = yield* Fiber.join(second)
      assert.deepStrictEqual(taken.payment, payment(1))
      yield* Effect.yieldNow
      assert.isUndefined(first.pollUnsafe(), "one payment wakes one taker")
      yield* queue.offer(payment(2))
      assert.deepStrictEqual((yield* Fiber.join(first)).payment, payment(2))
      assert.strictEqual(yield* queue.inFlight, 2)
    }).pipe(Effect.provide(queueOf(10))))

  it.effect("wakes the taker once the code that offered is done, in the same turn of the event loop", () =>
    Effect.gen(function*() {
      const queue = yield* PaymentQueue
      const taker = yield* Effect.forkChild(queue.take)
      yield* Effect.yieldNow
      const waitingAfterOffer = yield* Effect.andThen(
        queue.offer(payment(1)),
        Effect.sync(() => taker.pollUnsafe() === undefined)
      )
      assert.isTrue(waitingAfterOffer, "the offer does not run the taker inside it")
      // one microtask later: before any timer or setImmediate could have run
      yield* Effect.promise(() => Promise.resolve())
      assert.isDefined(taker.pollUnsafe(), "the taker has taken the payment")
      assert.deepStrictEqual((yield* Fiber.join(taker)).payment, payment(1))
    }).pipe(Effect.provide(queueOf(10))))

  it.effect("arrival rate: this second so far (counted as at least a quarter second), else the last full second", () =>
    Effect.gen(function*() {
      const queue = yield* PaymentQueue
      yield* TestClock.setTime(10_000)
      yield* queue.offer(payment(1))
      yield* queue.offer(payment(2))
      assert.strictEqual(queue.arrivalRateAt(10_000), 8)
      assert.strictEqual(queue.arrivalRateAt(10_500), 4)
      assert.strictEqual(queue.arrivalRateAt(11_000), 2, "the next second reads the last full one")
      assert.strictEqual(queue.arrivalRateAt(12_000), 0, "a second with no arrival in between")
      yield* TestClock.setTime(11_000)
      yield* queue.offer(payment(3))
      assert.strictEqual(queue.arrivalRateAt(11_100), 4, "the larger of the last second (2) and this one so far")
    }).pipe(Effect.provide(queueOf(10))))
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, Schedule } from "effect"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import type { RecordedPayment } from "../../src/payments/Payment.ts"
import { PaymentForwarder } from "../../src/payments/PaymentForwarder.ts"
import { PaymentQueue } from "../../src/payments/PaymentQueue.ts"
import { PaymentRecorder } from "../../src/payments/PaymentRecorder.ts"
import { PaymentWorkers } from "../../src/payments/PaymentWorkers.ts"
import { stub } from "../support/stub.ts"

const broken = "0b0f7c1c-59f6-4a5e-9a51-6c0f8f1e2d3a"
const fine = "5d1c3b7a-2e4f-4a6b-8c9d-0e1f2a3b4c5d"

const logged: Array<ReturnType<typeof Logger.formatStructured.log>> = []
const capture = Logger.make((options) => void logged.push(Logger.formatStructured.log(options)))

/** One worker, a forwarder that dies on `broken` and sends the rest to default, and a recorder that keeps them. */
const workersWith = (recorded: Array<RecordedPayment>) =>
  PaymentWorkers.pipe(
    Layer.provideMerge(Layer.mergeAll(
      stub(PaymentForwarder, {
        forward: (payment) =>
          payment.correlationId === broken
            ? Effect.die(new Error("the forwarder broke"))
            : Effect.succeed({ ...payment, processor: "default", requestedAt: new Date(0) })
      }),
      stub(PaymentRecorder, { record: (payment) => Effect.sync(() => void recorded.push(payment)) })
    )),
    Layer.provideMerge(PaymentQueue.layer),
    Layer.provide(Metrics.layerTest),
    Layer.provide(AppConfig.layerTest({}, { PAYMENT_WORKERS: "1" })),
    Layer.provide(Logger.layer([capture]))
  )

describe("PaymentWorkers", () => {
  // the real clock: the workers and the queue wait on it
  it.live("logs a payment whose job dies, releases it, and goes on with the next one", () => {
    const recorded: Array<RecordedPayment> = []
    return Effect.gen(function*() {
      logged.length = 0
      const queue = yield* PaymentQueue
      assert.strictEqual(yield* queue.offer({ correlationId: broken, amount: 1 }), "accepted")
      assert.strictEqual(yield* queue.offer({ correlationId: fine, amount: 2 }), "accepted")
      yield* Effect.sync(() => recorded.length).pipe(
        Effect.repeat({ until: (n) => n > 0, schedule: Schedule.spaced("5 millis") }),
        Effect.timeout("5 seconds")
      )
      assert.deepStrictEqual(recorded.map((p) => p.correlationId), [fine], "the one worker went on to the next")
      assert.strictEqual(yield* queue.inFlight, 0, "both jobs released their place")
      const failed = logged.filter((line) => line.message === "payment job failed")
      assert.strictEqual(failed.length, 1)
      assert.strictEqual(failed[0]?.level, "ERROR")
      assert.strictEqual(failed[0]?.annotations.correlationId, broken)
      assert.include(String(failed[0]?.annotations.cause), "the forwarder broke")
    }).pipe(Effect.provide(workersWith(recorded)))
  }, { timeout: 20_000 })
})

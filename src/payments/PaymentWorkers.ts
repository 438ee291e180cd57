import { Clock, Effect, Layer, Option } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { Metrics } from "../observability/Metrics.ts"
import { PaymentForwarder } from "./PaymentForwarder.ts"
import { PaymentQueue, type QueuedPayment } from "./PaymentQueue.ts"
import { PaymentRecorder } from "./PaymentRecorder.ts"

/**
 * A pool of worker fibers draining the payment queue: each takes one payment, forwards it and hands the result
 * to the recorder. On shutdown they finish what is queued, within the grace period, before they stop.
 */
export const PaymentWorkers: Layer.Layer<
  never,
  never,
  AppConfig | Metrics | PaymentQueue | PaymentForwarder | PaymentRecorder
> = Layer.effectDiscard(Effect.gen(function*() {
  const config = yield* AppConfig
  const metrics = yield* Metrics
  const queue = yield* PaymentQueue
  const forwarder = yield* PaymentForwarder
  const recorder = yield* PaymentRecorder

  const handle = (job: QueuedPayment) =>
    Effect.gen(function*() {
      const takenAt = yield* Clock.currentTimeMillis
      metrics.queueWait.observe((takenAt - job.enqueuedAt) / 1000)
      const recorded = yield* forwarder.forward(job.payment, job.attempt)
      yield* recorder.record(recorded)
      metrics.jobDuration.observe(
        { processor: recorded.processor },
        ((yield* Clock.currentTimeMillis) - takenAt) / 1000
      )
    }).pipe(
      Effect.withSpan("PaymentWorkers.process", {
        root: true,
        links: job.span === undefined ? [] : [{ span: job.span, attributes: { "link.kind": "enqueued-by" } }],
        attributes: { correlationId: job.payment.correlationId }
      }),
      Effect.catchDefect((defect) =>
        Effect.logError("payment job failed").pipe(
          Effect.annotateLogs({ correlationId: job.payment.correlationId, defect: String(defect) })
        )
      ),
      Effect.onInterrupt(() =>
        Effect.logError("payment abandoned while in flight").pipe(
          Effect.annotateLogs({ correlationId: job.payment.correlationId })
        )
      ),
      Effect.ensuring(queue.complete(job))
    )

  const worker = queue.take.pipe(Effect.flatMap(handle), Effect.forever)
  for (let i = 0; i < config.workers; i++) {
    yield* Effect.forkScoped(worker)
  }

  yield* Effect.addFinalizer(() =>
    queue.awaitIdle.pipe(
      Effect.timeoutOption(config.shutdownGrace),
      Effect.flatMap(Option.match({
        onSome: () => Effect.logInfo("payment queue drained"),
        onNone: () =>
          Effect.gen(function*() {
            const left = (yield* queue.size) + (yield* queue.inFlight)
            yield* Effect.logError("shutdown grace ran out before the queue drained").pipe(
              Effect.annotateLogs({ left })
            )
          })
      }))
    )
  )
}))

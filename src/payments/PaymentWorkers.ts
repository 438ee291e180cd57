import { Cause, Clock, Effect, Exit, Layer, Option } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { Metrics } from "../observability/Metrics.ts"
import { TracesExported } from "../observability/Tracing.ts"
import { PaymentForwarder } from "./PaymentForwarder.ts"
import { PaymentQueue, type QueuedPayment } from "./PaymentQueue.ts"
import { PaymentRecorder } from "./PaymentRecorder.ts"

const ignoreDefect = () => Effect.void

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

  const clock = yield* Clock.Clock
  const traced = yield* TracesExported
  const jobDuration = {
    default: metrics.jobDuration.labels({ processor: "default" }),
    fallback: metrics.jobDuration.labels({ processor: "fallback" })
  }

  const process = (job: QueuedPayment) => {
    const takenAt = clock.currentTimeMillisUnsafe()
    metrics.queueWait.observe((takenAt - job.enqueuedAt) / 1000)
    return Effect.flatMap(forwarder.forward(job.payment, job.attempt), (recorded) => {
      jobDuration[recorded.processor].observe((clock.currentTimeMillisUnsafe() - takenAt) / 1000)
      return recorder.record(recorded)
    })
  }

  const traceJob = (job: QueuedPayment, effect: Effect.Effect<void>) =>
    traced
      ? Effect.withSpan(effect, "PaymentWorkers.process", {
        root: true,
        links: job.span === undefined ? [] : [{ span: job.span, attributes: { "link.kind": "enqueued-by" } }],
        attributes: { correlationId: job.payment.correlationId }
      })
      : effect

  const settled = (job: QueuedPayment, exit: Exit.Exit<void>) => {
    queue.completeUnsafe(job)
    if (Exit.isSuccess(exit)) return Effect.void
    return Effect.logError(
      Exit.hasInterrupts(exit) ? "payment abandoned while in flight" : "payment job failed"
    ).pipe(Effect.annotateLogs({ correlationId: job.payment.correlationId, cause: Cause.pretty(exit.cause) }))
  }

  // data-first calls: a pipe of combinators built per payment cost more than the job's own bookkeeping
  const handle = (job: QueuedPayment) =>
    Effect.catchDefect(
      Effect.onExit(traceJob(job, Effect.suspend(() => process(job))), (exit) => settled(job, exit)),
      // a defect is logged above; the worker goes on with the next payment
      ignoreDefect
    )

  // a take with nothing queued waits anyway: no yield between payments
  const worker = Effect.forever(Effect.flatMap(queue.take, handle), { disableYield: true })
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

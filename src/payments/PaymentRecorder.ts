import { Context, Effect, Layer, Option, Queue, Schedule, type Tracer } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { Metrics } from "../observability/Metrics.ts"
import { backoff } from "./Backoff.ts"
import type { RecordedPayment } from "./Payment.ts"
import { PaymentIntake } from "./PaymentIntake.ts"
import { PaymentRepository } from "./PaymentRepository.ts"

/**
 * Writes recorded payments to the repository in batches: whatever accumulated while the previous insert ran
 * goes out in the next statement, so a lone payment is written at once and a burst shares one round trip.
 */
export class PaymentRecorder extends Context.Service<PaymentRecorder, {
  readonly record: (payment: RecordedPayment) => Effect.Effect<void>
  readonly pending: Effect.Effect<number>
}>()("app/payments/PaymentRecorder") {
  static readonly layer: Layer.Layer<PaymentRecorder, never, AppConfig | Metrics | PaymentIntake | PaymentRepository> =
    Layer
      .effect(
        PaymentRecorder,
        Effect.gen(function*() {
          const config = yield* AppConfig
          const metrics = yield* Metrics
          const repository = yield* PaymentRepository
          const intake = yield* PaymentIntake
          const queue = yield* Queue.unbounded<
            { readonly payment: RecordedPayment; readonly span: Tracer.AnySpan | undefined }
          >()
          let writing = 0

          const retry = backoff(config)

          const write = (batch: ReadonlyArray<RecordedPayment>) =>
            repository.insertMany(batch).pipe(
              Effect.uninterruptible,
              Effect.tapError((error) =>
                Effect.logError("recording payments failed, will retry").pipe(
                  Effect.annotateLogs({ rows: batch.length, cause: String(error.cause) })
                )
              ),
              Effect.retry(retry),
              Effect.orDie,
              Effect.tap((written) =>
                Effect.sync(() => {
                  metrics.recordBatchSize.observe(batch.length)
                  for (const payment of written) {
                    metrics.recorded.inc({ processor: payment.processor })
                    metrics.recordedAmount.inc({ processor: payment.processor }, payment.amount)
                  }
                })
              ),
              Effect.andThen(intake.recorded(batch.map((payment) => payment.correlationId)))
            )

          yield* Queue.takeBetween(queue, 1, config.recordBatchSize).pipe(
            Effect.flatMap((entries) => {
              writing = entries.length
              return write(entries.map((entry) => entry.payment)).pipe(
                Effect.withSpan("PaymentRecorder.write", {
                  root: true,
                  links: entries.flatMap((entry) =>
                    entry.span === undefined ? [] : [{ span: entry.span, attributes: { "link.kind": "recorded-for" } }]
                  ),
                  attributes: { rows: entries.length }
                }),
                Effect.ensuring(Effect.sync(() => writing = 0))
              )
            }),
            Effect.forever,
            Effect.forkScoped
          )

          yield* Effect.addFinalizer(() =>
            Effect.suspend(() => Effect.succeed(Queue.sizeUnsafe(queue) + writing)).pipe(
              Effect.repeat({ until: (left) => left === 0, schedule: Schedule.spaced("5 millis") }),
              Effect.timeoutOption(config.shutdownGrace),
              Effect.flatMap((done) =>
                Option.isSome(done) ?
                  Effect.void :
                  Effect.logError("shutdown grace ran out with payments not recorded").pipe(
                    Effect.annotateLogs({ pending: Queue.sizeUnsafe(queue) + writing })
                  )
              )
            )
          )

          return PaymentRecorder.of({
            record: (payment) =>
              Effect.currentParentSpan.pipe(
                Effect.orElseSucceed(() => undefined),
                Effect.flatMap((span) => Queue.offer(queue, { payment, span })),
                Effect.asVoid
              ),
            pending: Effect.sync(() => Queue.sizeUnsafe(queue) + writing)
          })
        })
      )
}

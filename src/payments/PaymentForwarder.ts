import { Clock, Context, Effect, Layer, Option, Result, Schedule, Schema } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import {
  ProcessorGateway,
  type ProcessorPayment,
  type ProcessorUnavailable,
  type SendOutcome
} from "../processors/ProcessorGateway.ts"
import { backoff } from "./Backoff.ts"
import { type PaymentRequest, type Processor, processors, type RecordedPayment } from "./Payment.ts"

export class AllProcessorsUnavailable extends Schema.TaggedError<AllProcessorsUnavailable>()(
  "AllProcessorsUnavailable",
  {}
) {}

/**
 * Takes a payment to a processor and answers what to record.
 *
 * Default first, fallback when default could not take the payment. A send that left and got no answer is
 * settled against the same processor, with the same requestedAt, and never re-routed: it may be stored there.
 */
export class PaymentForwarder extends Context.Service<PaymentForwarder, {
  readonly forward: (payment: PaymentRequest) => Effect.Effect<RecordedPayment>
}>()("app/payments/PaymentForwarder") {
  static readonly layer: Layer.Layer<PaymentForwarder, never, AppConfig | ProcessorGateway> = Layer.effect(
    PaymentForwarder,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const gateway = yield* ProcessorGateway
      const retry = Schedule.jittered(backoff(config))

      const settleOnce = (processor: Processor, payment: ProcessorPayment) =>
        gateway.lookup(processor, payment.correlationId).pipe(
          Effect.flatMap(Option.match({
            onSome: () => Effect.succeed<SendOutcome>("duplicate"),
            onNone: () => gateway.send(processor, payment)
          }))
        )

      const settle = Effect.fn("PaymentForwarder.settle")(
        function*(processor: Processor, payment: ProcessorPayment) {
          yield* Effect.annotateCurrentSpan({ processor, correlationId: payment.correlationId })
          yield* Effect.logWarning("ambiguous send, settling against the same processor").pipe(
            Effect.annotateLogs({ processor, correlationId: payment.correlationId })
          )
          return yield* settleOnce(processor, payment).pipe(
            Effect.retry(retry),
            Effect.orDie
          )
        }
      )

      const attempt = Effect.fnUntraced(function*(payment: PaymentRequest) {
        for (const processor of processors) {
          const sent: ProcessorPayment = {
            correlationId: payment.correlationId,
            amount: payment.amount,
            requestedAt: new Date(yield* Clock.currentTimeMillis)
          }
          const result = yield* gateway.send(processor, sent).pipe(
            Effect.catchTag("ProcessorAmbiguous", () => settle(processor, sent)),
            Effect.result
          )
          if (Result.isSuccess(result)) {
            return { ...sent, processor } satisfies RecordedPayment
          }
          yield* logUnavailable(result.failure)
        }
        return yield* new AllProcessorsUnavailable()
      })

      const forward = Effect.fn("PaymentForwarder.forward")(
        function*(payment: PaymentRequest) {
          return yield* attempt(payment).pipe(Effect.retry(retry), Effect.orDie)
        }
      )

      return PaymentForwarder.of({ forward })
    })
  )
}

const logUnavailable = (error: ProcessorUnavailable) =>
  Effect.logDebug("processor unavailable").pipe(
    Effect.annotateLogs({ processor: error.processor, reason: error.reason })
  )

import { Clock, Context, Duration, Effect, Layer, Option, Result, Schedule } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { Metrics } from "../observability/Metrics.ts"
import { TracesExported } from "../observability/Tracing.ts"
import type { Processor } from "../processors/Processor.ts"
import {
  type ProcessorAmbiguous,
  ProcessorGateway,
  type ProcessorPayment,
  type ProcessorUnavailable,
  type SendOutcome
} from "../processors/ProcessorGateway.ts"
import { ProcessorHealth, recheckInterval } from "../processors/ProcessorHealth.ts"
import { route } from "../routing/RoutingPolicy.ts"
import { backoff } from "./Backoff.ts"
import { DrainRate } from "./DrainRate.ts"
import type { Attempt, PaymentRequest, RecordedPayment } from "./Payment.ts"
import { PaymentIntake } from "./PaymentIntake.ts"
import { PaymentQueue } from "./PaymentQueue.ts"
import { makeSendPacing } from "./SendPacing.ts"

/**
 * Takes a payment to a processor and answers what to record.
 *
 * Each attempt goes where the routing policy says, from the processors' shared health and this instance's own
 * signals; a refused payment is routed again, and while no processor can take it, it waits. A send that left and
 * got no answer is settled against the same processor, with the same requestedAt, and never re-routed: it may be
 * stored there.
 */
export class PaymentForwarder extends Context.Service<PaymentForwarder, {
  /** `attempt`: the payment was taken over mid-send; settle it against that processor first. */
  readonly forward: (payment: PaymentRequest, attempt?: Attempt) => Effect.Effect<RecordedPayment>
}>()("app/payments/PaymentForwarder") {
  static readonly layer: Layer.Layer<
    PaymentForwarder,
    never,
    AppConfig | DrainRate | Metrics | ProcessorGateway | ProcessorHealth | PaymentIntake | PaymentQueue
  > = Layer.effect(
    PaymentForwarder,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const metrics = yield* Metrics
      const gateway = yield* ProcessorGateway
      const health = yield* ProcessorHealth
      const queue = yield* PaymentQueue
      const intake = yield* PaymentIntake
      const drain = yield* DrainRate
      const clock = yield* Clock.Clock
      const traced = yield* TracesExported
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
          return yield* health.track(processor, settleOnce(processor, payment), classify).pipe(
            Effect.retry(retry),
            Effect.orDie
          )
        }
      )

      const classify = (exit: { readonly ok: boolean; readonly error?: ProcessorUnavailable | ProcessorAmbiguous }) =>
        exit.ok
          ? "answered" as const
          : exit.error?._tag === "ProcessorUnavailable"
          ? "refused" as const
          : "no-answer" as const

      const settings = {
        maxDefaultDelay: Duration.toMillis(config.routing.maxDefaultDelay),
        maxDelay: Duration.toMillis(config.routing.maxDelay),
        maxHold: Duration.toMillis(config.routing.maxHold),
        drainRate: config.routing.drainRate,
        utilization: config.routing.utilization
      }

      // a backlog released at once (after an outage) would starve the HTTP path of CPU: sends are paced to the
      // arrival rate plus the drain rate (which may rise while the CPU has room), with bursts of a tenth of a
      // second's worth
      const pacing = makeSendPacing(100)

      const decide = (now: number, arrivalRate: number, heldSince: number | undefined) => {
        const backlog = queue.sizeUnsafe()
        return route({
          default: health.viewAt("default", now),
          fallback: health.viewAt("fallback", now),
          arrivalRate,
          capacity: config.processorConnections,
          heldFor: heldSince === undefined ? 0 : now - heldSince,
          backlog,
          room: config.queueCapacity - backlog,
          settings
        })
      }

      const decisions = {
        hold: metrics.routingDecisions.labels({ decision: "hold" }),
        default: metrics.routingDecisions.labels({ decision: "default" }),
        fallback: metrics.routingDecisions.labels({ decision: "fallback" })
      }

      const forwardUntraced = Effect.fnUntraced(function*(payment: PaymentRequest, attempt?: Attempt) {
        if (attempt !== undefined) {
          const sent = { ...payment, requestedAt: attempt.requestedAt }
          yield* settle(attempt.processor, sent)
          return { ...sent, processor: attempt.processor } satisfies RecordedPayment
        }
        let heldSince: number | undefined
        let slotReserved = false
        for (;;) {
          const now = clock.currentTimeMillisUnsafe()
          const arrivalRate = queue.arrivalRateAt(now)
          const decision = decide(now, arrivalRate, heldSince)
          if (decision._tag === "Hold") {
            decisions.hold.inc()
            heldSince ??= now
            slotReserved = false
            const holdLeft = settings.maxHold - (now - heldSince)
            yield* health.awaitChange(holdLeft > 0 ? Math.min(recheckInterval, holdLeft) : recheckInterval)
            continue
          }
          // with no payment arriving there is no HTTP path to keep CPU for: a backlog leaves as fast as it can
          if (!slotReserved && arrivalRate > 0) {
            slotReserved = true
            const wait = pacing.reserve(now, arrivalRate + drain.current())
            if (wait > 0) {
              // decided again when the slot comes: the wait may have been long
              yield* Effect.sleep(wait)
              continue
            }
          }
          slotReserved = false
          const processor = decision.processor
          decisions[processor].inc()
          const sent: ProcessorPayment = {
            correlationId: payment.correlationId,
            amount: payment.amount,
            requestedAt: new Date(now)
          }
          yield* intake.beforeSend(sent.correlationId, { processor, requestedAt: sent.requestedAt })
          // a Result, not a catchTag piped per send: building the pipe cost more than the send's own bookkeeping
          const result = yield* Effect.result(health.track(processor, gateway.send(processor, sent), classify))
          if (Result.isFailure(result)) {
            if (result.failure._tag === "ProcessorUnavailable") {
              yield* logUnavailable(result.failure)
              continue
            }
            yield* settle(processor, sent)
          }
          return { ...sent, processor } satisfies RecordedPayment
        }
      })

      const forward = traced
        ? Effect.fn("PaymentForwarder.forward")(function*(payment: PaymentRequest, attempt?: Attempt) {
          return yield* forwardUntraced(payment, attempt)
        })
        : forwardUntraced

      return PaymentForwarder.of({ forward })
    })
  )
}

const logUnavailable = (error: ProcessorUnavailable) =>
  Effect.logDebug("processor unavailable").pipe(
    Effect.annotateLogs({ processor: error.processor, reason: error.reason })
  )

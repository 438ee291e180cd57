import { Clock, Context, Effect, Layer, Queue, Schedule, type Tracer } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { QueueFull } from "../http/ApiError.ts"
import { Metrics } from "../observability/Metrics.ts"
import type { PaymentRequest } from "./Payment.ts"
import type { Attempt } from "./PaymentIntake.ts"

export interface QueuedPayment {
  readonly payment: PaymentRequest
  readonly enqueuedAt: number
  readonly span: Tracer.AnySpan | undefined
  /** Set when the payment was taken over mid-send from a stopped instance: settle it there first. */
  readonly attempt?: Attempt
}

export type OfferResult = "accepted" | "duplicate"

export class PaymentQueue extends Context.Service<PaymentQueue, {
  readonly offer: (payment: PaymentRequest) => Effect.Effect<OfferResult, QueueFull>
  /** Enqueues a payment taken over from the durable intake, whatever this instance knew of it. */
  readonly restore: (payment: PaymentRequest, attempt: Attempt | undefined) => Effect.Effect<void>
  readonly isFull: Effect.Effect<boolean>
  /** Free places in the queue. */
  readonly room: Effect.Effect<number>
  readonly take: Effect.Effect<QueuedPayment>
  readonly complete: (job: QueuedPayment) => Effect.Effect<void>
  readonly size: Effect.Effect<number>
  readonly inFlight: Effect.Effect<number>
  readonly purge: Effect.Effect<number>
  readonly awaitIdle: Effect.Effect<void>
  /** Payments accepted per second lately (the larger of the last full second and the current one so far). */
  readonly arrivalRate: Effect.Effect<number>
}>()("app/payments/PaymentQueue") {
  static readonly layer: Layer.Layer<PaymentQueue, never, AppConfig | Metrics> = Layer.effect(
    PaymentQueue,
    Effect.gen(function*() {
      const { queueCapacity } = yield* AppConfig
      const metrics = yield* Metrics
      const queue = yield* Queue.bounded<QueuedPayment>(queueCapacity)
      // every correlationId accepted by this instance since the last purge: queued, in flight or recorded
      const known = new Set<string>()
      let inFlight = 0
      let second = 0
      let thisSecond = 0
      let lastSecond = 0
      const countArrival = (now: number) => {
        const current = Math.floor(now / 1000)
        if (current !== second) {
          lastSecond = current === second + 1 ? thisSecond : 0
          thisSecond = 0
          second = current
        }
        thisSecond++
      }
      const arrivalRate = Effect.map(Clock.currentTimeMillis, (now) => {
        const current = Math.floor(now / 1000)
        if (current === second) return Math.max(lastSecond, thisSecond / Math.max(0.25, (now % 1000) / 1000))
        return current === second + 1 ? thisSecond : 0
      })

      const offer = Effect.fnUntraced(function*(payment: PaymentRequest) {
        if (known.has(payment.correlationId)) {
          metrics.rejected.inc({ reason: "duplicate" })
          return "duplicate" as const
        }
        const enqueuedAt = yield* Clock.currentTimeMillis
        const span = yield* Effect.currentParentSpan.pipe(Effect.orElseSucceed(() => undefined))
        if (!Queue.offerUnsafe(queue, { payment, enqueuedAt, span })) {
          metrics.rejected.inc({ reason: "queue_full" })
          return yield* new QueueFull()
        }
        known.add(payment.correlationId)
        countArrival(enqueuedAt)
        metrics.enqueued.inc()
        metrics.queueLength.inc()
        return "accepted" as const
      })

      const restore = (payment: PaymentRequest, attempt: Attempt | undefined) =>
        Effect.gen(function*() {
          const enqueuedAt = yield* Clock.currentTimeMillis
          known.add(payment.correlationId)
          yield* Queue.offer(queue, {
            payment,
            enqueuedAt,
            span: undefined,
            ...(attempt === undefined ? {} : { attempt })
          })
          metrics.queueLength.inc()
        })

      const take = Effect.map(Queue.take(queue), (job) => {
        inFlight++
        metrics.queueLength.dec()
        metrics.inFlight.inc()
        return job
      })

      const complete = (_job: QueuedPayment) =>
        Effect.sync(() => {
          inFlight--
          metrics.inFlight.dec()
        })

      const purge = Effect.map(Queue.clear(queue), (dropped) => {
        known.clear()
        metrics.queueLength.set(0)
        return dropped.length
      })

      const awaitIdle = Effect.suspend(() => Effect.succeed(Queue.sizeUnsafe(queue) === 0 && inFlight === 0)).pipe(
        Effect.repeat({ until: (idle) => idle, schedule: Schedule.spaced("10 millis") }),
        Effect.asVoid
      )

      return PaymentQueue.of({
        offer,
        restore,
        isFull: Effect.sync(() => Queue.sizeUnsafe(queue) >= queueCapacity),
        room: Effect.sync(() => queueCapacity - Queue.sizeUnsafe(queue)),
        take,
        complete,
        size: Queue.size(queue),
        inFlight: Effect.sync(() => inFlight),
        purge,
        awaitIdle,
        arrivalRate
      })
    })
  )
}

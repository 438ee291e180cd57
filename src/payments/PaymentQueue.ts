import { Clock, Context, Effect, ErrorReporter, Exit, Layer, Queue, Schedule, Schema, type Tracer } from "effect"
import { HttpServerRespondable } from "effect/http"
import { AppConfig } from "../config/AppConfig.ts"
import { errorResponse } from "../http/ApiError.ts"
import { Metrics } from "../observability/Metrics.ts"
import { TracesExported } from "../observability/Tracing.ts"
import { CorrelationIdSet } from "./CorrelationIdSet.ts"
import type { Attempt, PaymentRequest } from "./Payment.ts"

export interface QueuedPayment {
  readonly payment: PaymentRequest
  readonly enqueuedAt: number
  readonly span: Tracer.AnySpan | undefined
  /** Set when the payment was taken over mid-send from a stopped instance: settle it there first. */
  readonly attempt?: Attempt
}

export type OfferResult = "accepted" | "duplicate"

/** The queue holds `PAYMENT_QUEUE_CAPACITY` payments already: 503 `queue_full`. */
export class QueueFull extends Schema.TaggedError<QueueFull>()("QueueFull", {}) {
  [HttpServerRespondable.symbol]() {
    return errorResponse(503, { error: "queue_full" })
  }
  override readonly [ErrorReporter.ignore] = true
}

const succeedAccepted = Effect.succeed<OfferResult>("accepted")
const succeedDuplicate = Effect.succeed<OfferResult>("duplicate")
const queueFull = Effect.fail(new QueueFull())

export class PaymentQueue extends Context.Service<PaymentQueue, {
  readonly offer: (payment: PaymentRequest) => Effect.Effect<OfferResult, QueueFull>
  /** Enqueues a payment taken over from the durable intake, whatever this instance knew of it. */
  readonly restore: (payment: PaymentRequest, attempt: Attempt | undefined) => Effect.Effect<void>
  readonly isFull: Effect.Effect<boolean>
  /** Free places in the queue. */
  readonly room: Effect.Effect<number>
  readonly take: Effect.Effect<QueuedPayment>
  readonly complete: (job: QueuedPayment) => Effect.Effect<void>
  /** The same, done at once: for a worker's exit handler. */
  readonly completeUnsafe: (job: QueuedPayment) => void
  readonly size: Effect.Effect<number>
  /** The payments waiting, read without an effect: the forwarder asks once per routing decision. */
  readonly sizeUnsafe: () => number
  readonly inFlight: Effect.Effect<number>
  readonly purge: Effect.Effect<number>
  readonly awaitIdle: Effect.Effect<void>
  /**
   * Payments accepted per second lately, at `now` (epoch milliseconds): the larger of the last full second and the
   * current one so far.
   */
  readonly arrivalRateAt: (now: number) => number
}>()("app/payments/PaymentQueue") {
  static readonly layer: Layer.Layer<PaymentQueue, never, AppConfig | Metrics> = Layer.effect(
    PaymentQueue,
    Effect.gen(function*() {
      const { queueCapacity } = yield* AppConfig
      const metrics = yield* Metrics
      const clock = yield* Clock.Clock
      const traced = yield* TracesExported
      const queue = yield* Queue.bounded<QueuedPayment>(queueCapacity)
      // every correlationId accepted by this instance since the last purge: queued, in flight or recorded
      const known = new CorrelationIdSet()
      let inFlight = 0
      const rejected = {
        duplicate: metrics.rejected.labels({ reason: "duplicate" }),
        queueFull: metrics.rejected.labels({ reason: "queue_full" })
      }
      metrics.queueLength.readFrom((gauge) => gauge.set(Queue.sizeUnsafe(queue)))
      metrics.inFlight.readFrom((gauge) => gauge.set(inFlight))
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
      const arrivalRateAt = (now: number) => {
        const current = Math.floor(now / 1000)
        if (current === second) return Math.max(lastSecond, thisSecond / Math.max(0.25, (now % 1000) / 1000))
        return current === second + 1 ? thisSecond : 0
      }

      // Idle takers wait here, the one that went idle last on top, and each payment wakes the top one: the workers
      // a steady rate needs stay busy and the rest stay parked. Queue.take wakes the one waiting longest, so every
      // payment would rotate all of the pool's hundreds of waits, and each wait, living until the whole pool had
      // turned, would outlive the young generation and be promoted to the old one.
      const idle: Array<() => void> = []
      let wakesScheduled = 0
      const wakeAll = () => {
        for (; wakesScheduled > 0; wakesScheduled--) idle.pop()?.()
      }
      // The woken take runs once the code that offered has run to its end (the request's fiber goes on to write its
      // 202 first), not inside it. A microtask, not the fiber dispatcher's task as Queue's own wake-ups: that is a
      // setImmediate, and cost one more pass of the event loop per payment (epoll_pwait 3.8 → 3.1 per payment).
      const wakeOne = () => {
        if (wakesScheduled++ === 0) queueMicrotask(wakeAll)
      }

      const enqueue = (
        payment: PaymentRequest,
        span: Tracer.AnySpan | undefined
      ): Effect.Effect<OfferResult, QueueFull> => {
        if (known.has(payment.correlationId)) {
          rejected.duplicate.inc()
          return succeedDuplicate
        }
        const enqueuedAt = clock.currentTimeMillisUnsafe()
        if (!Queue.offerUnsafe(queue, { payment, enqueuedAt, span })) {
          rejected.queueFull.inc()
          return queueFull
        }
        known.add(payment.correlationId)
        countArrival(enqueuedAt)
        wakeOne()
        metrics.enqueued.inc()
        return succeedAccepted
      }

      // the request's span is kept for the job's link only where spans are exported
      const offer = traced
        ? (payment: PaymentRequest) =>
          Effect.flatMap(
            Effect.currentParentSpan.pipe(Effect.orElseSucceed(() => undefined)),
            (span) => enqueue(payment, span)
          )
        : (payment: PaymentRequest) => Effect.suspend(() => enqueue(payment, undefined))

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
          wakeOne()
        })

      const awaitOffer = Effect.callback<void>((resume) => {
        const wake = () => resume(Effect.void)
        idle.push(wake)
        return Effect.sync(() => {
          const at = idle.lastIndexOf(wake)
          if (at !== -1) idle.splice(at, 1)
        })
      })
      const take: Effect.Effect<QueuedPayment> = Effect.suspend(() => {
        const taken = Queue.takeUnsafe(queue)
        if (taken === undefined) return Effect.andThen(awaitOffer, take)
        if (Exit.isSuccess(taken)) inFlight++
        return taken
      })

      const completeUnsafe = (_job: QueuedPayment) => {
        inFlight--
      }
      const complete = (job: QueuedPayment) => Effect.sync(() => completeUnsafe(job))

      const purge = Effect.map(Queue.clear(queue), (dropped) => {
        known.clear()
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
        completeUnsafe,
        size: Queue.size(queue),
        sizeUnsafe: () => Queue.sizeUnsafe(queue),
        inFlight: Effect.sync(() => inFlight),
        purge,
        awaitIdle,
        arrivalRateAt
      })
    })
  )
}

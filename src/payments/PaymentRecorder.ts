import { Clock, Context, Deferred, Duration, Effect, Exit, Layer, Option, Queue, Schedule, type Tracer } from "effect"
import { randomUUID } from "node:crypto"
import { AppConfig } from "../config/AppConfig.ts"
import { Metrics } from "../observability/Metrics.ts"
import { TracesExported } from "../observability/Tracing.ts"
import { processors } from "../processors/Processor.ts"
import { backoff } from "./Backoff.ts"
import { type RecordedPayment, type SummaryRange, toCents } from "./Payment.ts"
import { PaymentIntake } from "./PaymentIntake.ts"
import { PaymentRepository, type RecorderMark } from "./PaymentRepository.ts"

interface Entry {
  /** Stamped with the moment it was handed over, which is when its answer arrived. */
  readonly payment: RecordedPayment & { readonly answeredAt: Date }
  readonly span: Tracer.AnySpan | undefined
}

// in cents, so a batch adds what its payments add one by one
const sumAmounts = (payments: ReadonlyArray<RecordedPayment>) =>
  payments.reduce((cents, payment) => cents + toCents(payment.amount), 0) / 100

const inRange = (at: Date, range: SummaryRange) =>
  (range.from === undefined || at >= range.from) && (range.to === undefined || at <= range.to)

const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const metrics = yield* Metrics
  const repository = yield* PaymentRepository
  const intake = yield* PaymentIntake
  const queue = yield* Queue.unbounded<Entry>()
  let writing = 0
  // handed over and not written yet; a summary waits for those in its range
  const unwritten = new Set<Entry>()
  let progress = yield* Deferred.make<void>()
  const advance = (entries: ReadonlyArray<Entry>) =>
    Effect.suspend(() => {
      for (const entry of entries) unwritten.delete(entry)
      const fired = progress
      progress = Deferred.makeUnsafe<void>()
      return Deferred.succeed(fired, undefined)
    })

  // done when someone waits for what is unwritten (a summary): the rest of the interval between writes is skipped
  let wakeUp = Deferred.makeUnsafe<void>()
  const pause = Effect.suspend(() => Deferred.await(wakeUp)).pipe(
    Effect.timeoutOption(config.recordInterval),
    Effect.ensuring(Effect.sync(() => wakeUp = Deferred.makeUnsafe<void>()))
  )

  const retry = backoff(config)
  const recorded = {
    default: {
      count: metrics.recorded.labels({ processor: "default" }),
      amount: metrics.recordedAmount.labels({ processor: "default" })
    },
    fallback: {
      count: metrics.recorded.labels({ processor: "fallback" }),
      amount: metrics.recordedAmount.labels({ processor: "fallback" })
    }
  }
  const traced = yield* TracesExported
  const clock = yield* Clock.Clock
  // entries leave `unwritten` in the order they came: the first `skip` are the ones a statement is writing
  const writtenThrough = (now: number, skip = 0) => {
    let skipped = 0
    for (const entry of unwritten) {
      if (skipped++ < skip) continue
      return Math.min(entry.payment.answeredAt.getTime(), now)
    }
    return now
  }
  const recorderId = `${config.instanceId}-${randomUUID()}`
  const aliveForMillis = Duration.toMillis(config.recorderMarkLease)
  const markAt = (now: number, skip = 0): RecorderMark => ({
    recorder: recorderId,
    instance: config.instanceId,
    writtenThrough: new Date(writtenThrough(now, skip)),
    aliveForMillis
  })
  let markedAt = Number.NEGATIVE_INFINITY

  const enqueue = (payment: RecordedPayment, span: Tracer.AnySpan | undefined) => {
    const entry: Entry = {
      payment: { ...payment, answeredAt: new Date(clock.currentTimeMillisUnsafe()) },
      span
    }
    unwritten.add(entry)
    Queue.offerUnsafe(queue, entry)
  }

  // the statement carries the mark as it will stand once its rows are in: peers need no statement of their own
  const insertMarked = (entries: ReadonlyArray<Entry>, batch: ReadonlyArray<RecordedPayment>) =>
    Effect.suspend(() => {
      const now = clock.currentTimeMillisUnsafe()
      return Effect.tap(
        repository.insertMany(batch, markAt(now, entries.length)),
        () => Effect.sync(() => markedAt = Math.max(markedAt, now))
      )
    })

  const write = (entries: ReadonlyArray<Entry>, batch: ReadonlyArray<RecordedPayment>) =>
    insertMarked(entries, batch).pipe(
      Effect.uninterruptible,
      Effect.tapError((error) =>
        Effect.logError("recording payments failed, will retry").pipe(
          Effect.annotateLogs({ rows: batch.length, cause: String(error.cause) })
        )
      ),
      Effect.retry(retry),
      Effect.orDie,
      Effect.tap(() => advance(entries)),
      Effect.tap((written) =>
        Effect.sync(() => {
          metrics.recordBatchSize.observe(batch.length)
          for (const processor of processors) {
            const mine = written.filter((payment) => payment.processor === processor)
            if (mine.length === 0) continue
            recorded[processor].count.inc(mine.length)
            recorded[processor].amount.inc(sumAmounts(mine))
          }
        })
      ),
      Effect.andThen(intake.recorded(batch.map((payment) => payment.correlationId)))
    )

  yield* Queue.takeBetween(queue, 1, config.recordBatchSize).pipe(
    Effect.flatMap((entries) => {
      writing = entries.length
      return write(entries, entries.map((entry) => entry.payment)).pipe(
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
    // what arrives while the statement runs and during the interval goes out together in the next one
    Effect.andThen(pause),
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
    record: traced
      ? (payment) =>
        Effect.flatMap(
          Effect.currentParentSpan.pipe(Effect.orElseSucceed(() => undefined)),
          (span) => Effect.sync(() => enqueue(payment, span))
        )
      : (payment) => Effect.sync(() => enqueue(payment, undefined)),
    pending: Effect.sync(() => Queue.sizeUnsafe(queue) + writing),
    awaitWritten: (range, within) =>
      Effect.suspend(() => {
        const awaited = [...unwritten].filter((entry) => inRange(entry.payment.requestedAt, range))
        const done = () => awaited.every((entry) => !unwritten.has(entry))
        const caughtUp: Effect.Effect<void> = Effect.suspend(() =>
          done() ? Effect.void : Effect.andThen(Deferred.await(progress), caughtUp)
        )
        if (done()) return Effect.succeed(true)
        Deferred.doneUnsafe(wakeUp, Exit.void)
        return caughtUp.pipe(Effect.timeoutOption(within), Effect.map(Option.isSome))
      }),
    recorderId,
    mark: (now) => markAt(now),
    markedAt: () => markedAt
  })
})

/**
 * Writes recorded payments to the repository in batches: whatever accumulated while the previous insert ran
 * goes out in the next statement, so a lone payment is written at once and a burst shares one round trip.
 */
export class PaymentRecorder extends Context.Service<PaymentRecorder, {
  readonly record: (payment: RecordedPayment) => Effect.Effect<void>
  readonly pending: Effect.Effect<number>
  /**
   * Waits, up to `within`, until every payment handed over before the call whose requestedAt falls in `range` is
   * written; false when time ran out. Answers at once when none is pending; else the next write goes out without
   * waiting for the rest of its interval.
   */
  readonly awaitWritten: (range: SummaryRange, within: Duration.Input) => Effect.Effect<boolean>
  /** This recorder's row in `recorder_marks`. */
  readonly recorderId: string
  /**
   * This recorder's mark as of `now` (epoch milliseconds), to publish: written through the oldest unwritten
   * payment's hand-over, or `now` when none is pending.
   */
  readonly mark: (now: number) => RecorderMark
  /** As of when (epoch milliseconds) the mark the last successful insert carried was taken. */
  readonly markedAt: () => number
}>()("app/payments/PaymentRecorder") {
  static readonly layer: Layer.Layer<PaymentRecorder, never, AppConfig | Metrics | PaymentIntake | PaymentRepository> =
    Layer.effect(PaymentRecorder, make)
}

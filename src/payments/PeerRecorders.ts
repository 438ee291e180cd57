import { PgClient } from "@effect/sql-pg"
import { Clock, Context, Duration, Effect, Layer, Queue, Schedule } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { PaymentRecorder } from "./PaymentRecorder.ts"
import { PaymentRepository } from "./PaymentRepository.ts"

/** Where a summary asks every instance to publish its recorder's mark now; the payload is the asker's recorder. */
const marksWanted = "recorder_marks_wanted"

const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const recorder = yield* PaymentRecorder
  const repository = yield* PaymentRepository
  const sql = yield* PgClient.PgClient
  const clock = yield* Clock.Clock
  const me = recorder.recorderId
  // renewed at least four times a lease, however slowly the recorder itself writes
  const interval = Duration.toMillis(
    Duration.min(config.recordInterval, Duration.divideUnsafe(config.recorderMarkLease, 4))
  )
  // each write of the recorder carries its mark; a statement of its own only when none went out for half an interval
  // more than the recorder waits between writes, so that under load there is none
  const quietFor = interval * 1.5

  // tried, whether or not it went through: a failing database is tried again an interval and a half on, not at once
  let publishedAt = Number.NEGATIVE_INFINITY
  const publish = Effect.suspend(() => {
    publishedAt = clock.currentTimeMillisUnsafe()
    return repository.publishMark(recorder.mark(publishedAt))
  }).pipe(Effect.catchCause((cause) => Effect.logWarning("publishing the recorder's mark failed", cause)))
  yield* Effect.suspend(() => {
    const wait = Math.max(recorder.markedAt(), publishedAt) + quietFor - clock.currentTimeMillisUnsafe()
    return wait > 0 ? Effect.sleep(wait) : publish
  }).pipe(
    Effect.forever,
    Effect.forkScoped
  )
  // on shutdown the mark goes on (the fiber above stops after this) until the recorder has written everything;
  // then the row goes, and no summary waits for this instance any more
  yield* Effect.addFinalizer(() =>
    recorder.pending.pipe(
      Effect.repeat({ until: (pending) => pending === 0, schedule: Schedule.spaced("5 millis") }),
      Effect.timeoutOption(config.shutdownGrace),
      Effect.andThen(sql`DELETE FROM recorder_marks WHERE recorder = ${me}`),
      Effect.ignore
    )
  )

  // a summary asks the other instances for their marks at once, rather than wait for their next insert. An
  // embedded database serves this instance alone: nobody to ask, and its one connection must not be held listening
  if (config.database._tag !== "Embedded") {
    yield* sql.listen(marksWanted).pipe(
      Effect.flatMap((requests) =>
        Effect.forever(Effect.gen(function*() {
          const askers = yield* Queue.takeAll(requests)
          if (askers.every((request) => request.payload === me)) return
          const askedAt = clock.currentTimeMillisUnsafe()
          yield* recorder.awaitWritten({}, config.summaryRecordWait)
          if (recorder.markedAt() < askedAt) yield* publish
        }))
      ),
      Effect.scoped,
      Effect.catchCause((cause) => Effect.logWarning("listening for summaries failed, listening again", cause)),
      Effect.andThen(Effect.sleep(config.recordInterval)),
      Effect.forever,
      Effect.forkScoped
    )
  }
  const ask = sql.notify(marksWanted, me).pipe(
    Effect.catchCause((cause) => Effect.logWarning("asking the other instances for their marks failed", cause))
  )

  const behind = (since: number) =>
    sql<{ readonly instance: string }>`
      SELECT instance FROM recorder_marks
      WHERE recorder <> ${me} AND alive_until > now() AND written_through < ${new Date(since)}`.pipe(
      Effect.map((rows) => rows.map((row) => row.instance)),
      Effect.orElseSucceed(() => ["(the marks cannot be read)"])
    )

  const awaitCaughtUp = Effect.fn("PeerRecorders.awaitCaughtUp")(function*(since: number, within: Duration.Input) {
    const deadline = clock.currentTimeMillisUnsafe() + Duration.toMillis(within)
    let late = yield* behind(since)
    if (late.length === 0) return late
    yield* ask
    // an instance that was asked answers within a round trip or two: looked at again soon, then less often
    for (let poll = 2; clock.currentTimeMillisUnsafe() < deadline; poll = Math.min(poll * 2, 20)) {
      yield* Effect.sleep(Math.min(poll, deadline - clock.currentTimeMillisUnsafe()))
      late = yield* behind(since)
      if (late.length === 0) return late
    }
    return late
  })

  return PeerRecorders.of({ awaitCaughtUp })
})

/**
 * What the other instances' recorders have written. Every instance publishes its recorder's mark (a moment before
 * which every payment it got an answer for is written) in `recorder_marks` with each write of its recorder, and on
 * its own when the recorder has not written for one and a half record intervals. A summary served by one instance
 * asks the others (`NOTIFY`) to write what they hold and publish their marks at once, and waits until every other
 * live instance's mark has passed the moment it was asked: whatever instance answers, the payments any instance had
 * settled by then are counted.
 */
export class PeerRecorders extends Context.Service<PeerRecorders, {
  /**
   * Waits, up to `within`, until every other live instance has written what it had settled before `since` (epoch
   * milliseconds); answers the instances still behind when time runs out, none when all caught up.
   */
  readonly awaitCaughtUp: (since: number, within: Duration.Input) => Effect.Effect<ReadonlyArray<string>>
}>()("app/payments/PeerRecorders") {
  static readonly layer: Layer.Layer<
    PeerRecorders,
    never,
    AppConfig | PaymentRecorder | PaymentRepository | PgClient.PgClient
  > = Layer.effect(PeerRecorders, make)
}

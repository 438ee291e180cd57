import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { DatabaseLive } from "../../src/database/Database.ts"
import { PaymentRecorder } from "../../src/payments/PaymentRecorder.ts"
import { PaymentRepository, type RecorderMark } from "../../src/payments/PaymentRepository.ts"
import { PeerRecorders } from "../../src/payments/PeerRecorders.ts"
import { backendName, configWithIsolatedDatabase } from "../support/database.ts"
import { stub } from "../support/stub.ts"

describe(`PeerRecorders on ${backendName}`, () => {
  it.effect(
    "publishes a mark of its own only when the recorder has written none for one and a half intervals",
    () =>
      Effect.gen(function*() {
        // when the recorder's last insert, which carried its mark, went through; taking a mark does not move it
        let markedAt = Number.NEGATIVE_INFINITY
        const recorder = stub(PaymentRecorder, {
          recorderId: "r-test",
          mark: (now): RecorderMark => ({
            recorder: "r-test",
            instance: "a",
            writtenThrough: new Date(now),
            aliveForMillis: 2000
          }),
          markedAt: () => markedAt,
          pending: Effect.succeed(0)
        })
        // each mark as it is sent, and how many the database has taken: a publisher that sends again at once has
        // sent its next mark by the time the one before is taken
        const published: Array<number> = []
        let taken = 0
        const publishedCount = (n: number) =>
          Effect.sync(() => taken).pipe(
            Effect.tap(() => Effect.yieldNow),
            Effect.repeat({ until: (count) => count >= n })
          )
        const repository = Layer.effect(
          PaymentRepository,
          Effect.map(Effect.service(PaymentRepository), (repository) =>
            PaymentRepository.of({
              ...repository,
              publishMark: (mark) =>
                Effect.sync(() => published.push(mark.writtenThrough.getTime())).pipe(
                  Effect.andThen(repository.publishMark(mark)),
                  Effect.andThen(Effect.sync(() => taken++))
                )
            }))
        ).pipe(Layer.provide(PaymentRepository.layer))
        const layer = PeerRecorders.layer.pipe(
          Layer.provide([recorder, repository]),
          Layer.provide(DatabaseLive),
          Layer.provide(
            configWithIsolatedDatabase({ recordInterval: Duration.millis(100), recorderMarkLease: Duration.seconds(2) })
          )
        )
        yield* Effect.gen(function*() {
          yield* PeerRecorders
          yield* publishedCount(1)
          assert.deepStrictEqual(published, [0], "the first mark at once")
          // the recorder writes every 100 ms, each write with its mark: nothing of its own to publish
          for (const at of [100, 200, 300]) {
            yield* TestClock.adjust("100 millis")
            markedAt = at
          }
          yield* TestClock.adjust("100 millis")
          assert.deepStrictEqual(published, [0])
          // the recorder stopped writing at 300: a mark of its own 150 ms on, and every 150 ms after (each once the
          // database has taken the one before)
          yield* TestClock.adjust("50 millis")
          yield* publishedCount(2)
          yield* TestClock.adjust("150 millis")
          yield* publishedCount(3)
          assert.deepStrictEqual(published, [0, 450, 600])
        }).pipe(Effect.provide(layer))
      }),
    { timeout: 60_000 }
  )
})

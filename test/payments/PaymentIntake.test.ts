import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseLive } from "../../src/database/Database.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { PaymentIntake } from "../../src/payments/PaymentIntake.ts"
import { PaymentQueue } from "../../src/payments/PaymentQueue.ts"
import { backendName, configWithIsolatedDatabase } from "../support/database.ts"

const id = (n: number) => `7c6d5e4f-3a2b-4c1d-8e9f-${String(n).padStart(12, "0")}`
const payment = (n: number) => ({ correlationId: id(n), amount: 12.34 })

interface IntakeRow {
  readonly correlation_id: string
  readonly claimed_by: string
  readonly processor: string | null
  readonly requested_at: Date | null
}

const intakeRows = Effect.flatMap(
  Effect.service(SqlClient.SqlClient),
  (sql) =>
    sql<IntakeRow>`
      SELECT correlation_id, claimed_by, processor, requested_at FROM payment_intake ORDER BY correlation_id`
)

const fresh = Effect.gen(function*() {
  yield* (yield* PaymentIntake).purge
  yield* (yield* PaymentQueue).purge
})

describe("PaymentIntake (memory)", () => {
  it.effect("is the queue: accept offers, and the rest does nothing", () =>
    Effect.gen(function*() {
      const intake = yield* PaymentIntake
      const queue = yield* PaymentQueue
      assert.strictEqual(yield* intake.accept(payment(1)), "accepted")
      assert.strictEqual(yield* intake.accept(payment(1)), "duplicate")
      assert.strictEqual(yield* queue.size, 1)
      yield* intake.beforeSend(id(1), { processor: "default", requestedAt: new Date(0) })
      yield* intake.recorded([id(1)])
      yield* intake.purge
      assert.strictEqual(yield* queue.size, 1, "purging the intake leaves the queue to its own purge")
    }).pipe(
      Effect.provide(
        PaymentIntake.layerMemory.pipe(
          Layer.provideMerge(PaymentQueue.layer),
          Layer.provide(Metrics.layerTest),
          Layer.provide(configWithIsolatedDatabase())
        )
      )
    ))
})

const DurableIntake = PaymentIntake.layerPostgres.pipe(
  Layer.provideMerge(PaymentQueue.layer),
  Layer.provideMerge(DatabaseLive),
  Layer.provide(Metrics.layerTest),
  Layer.provide(configWithIsolatedDatabase())
)

describe(`PaymentIntake (postgres, on ${backendName})`, () => {
  // the real clock: the intake's upkeep runs on it
  layer(DurableIntake, { timeout: "60 seconds", excludeTestServices: true })((it) => {
    it.effect("stores an accepted payment, claimed by this instance, before it is queued", () =>
      Effect.gen(function*() {
        yield* fresh
        const intake = yield* PaymentIntake
        assert.strictEqual(yield* intake.accept(payment(1)), "accepted")
        assert.strictEqual(yield* (yield* PaymentQueue).size, 1)
        const rows = yield* intakeRows
        assert.deepStrictEqual(rows.map((row) => row.correlation_id), [id(1)])
        assert.match(rows[0]?.claimed_by ?? "", /^api-[0-9a-f-]{36}$/)
      }))

    it.effect("answers duplicate for a payment it holds or one already recorded, and queues neither", () =>
      Effect.gen(function*() {
        yield* fresh
        const intake = yield* PaymentIntake
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO payments (correlation_id, amount, processor, requested_at)
          VALUES (${id(2)}, 12.34, 'default', now())`
        yield* intake.accept(payment(1))
        yield* (yield* PaymentQueue).purge
        assert.strictEqual(yield* intake.accept(payment(1)), "duplicate")
        assert.strictEqual(yield* intake.accept(payment(2)), "duplicate")
        assert.strictEqual(yield* (yield* PaymentQueue).size, 0)
        yield* sql`DELETE FROM payments`
      }))

    it.effect("keeps where each send went, and forgets a payment once it is recorded", () =>
      Effect.gen(function*() {
        yield* fresh
        const intake = yield* PaymentIntake
        yield* intake.accept(payment(1))
        yield* intake.accept(payment(2))
        const requestedAt = new Date("2025-08-20T12:00:00.000Z")
        yield* intake.beforeSend(id(1), { processor: "fallback", requestedAt })
        const sent = (yield* intakeRows).find((row) => row.correlation_id === id(1))
        assert.strictEqual(sent?.processor, "fallback")
        assert.strictEqual(sent?.requested_at?.getTime(), requestedAt.getTime())
        yield* intake.recorded([id(1)])
        assert.deepStrictEqual((yield* intakeRows).map((row) => row.correlation_id), [id(2)])
        yield* intake.purge
        assert.deepStrictEqual(yield* intakeRows, [])
      }))

    it.effect("takes over the payments of an instance whose claim expired, with where they were last sent", () =>
      Effect.gen(function*() {
        yield* fresh
        const sql = yield* SqlClient.SqlClient
        const queue = yield* PaymentQueue
        const requestedAt = new Date("2025-08-20T12:00:00.000Z")
        yield* sql`INSERT INTO payment_intake (correlation_id, amount, claimed_by, claimed_until, processor, requested_at)
          VALUES (${id(3)}, 12.34, 'gone', now() - interval '1 second', 'default', ${requestedAt}),
                 (${id(4)}, 5.00, 'gone', now() - interval '1 second', NULL, NULL)`
        const [first, second] = yield* Effect.all([queue.take, queue.take]).pipe(Effect.timeout("5 seconds"))
        yield* queue.complete(first)
        yield* queue.complete(second)
        const byId = new Map([first, second].map((job) => [job.payment.correlationId, job]))
        assert.deepStrictEqual(byId.get(id(3))?.attempt, { processor: "default", requestedAt })
        assert.deepStrictEqual(byId.get(id(4))?.payment, { correlationId: id(4), amount: 5 })
        assert.isUndefined(byId.get(id(4))?.attempt)
        const claims = yield* intakeRows.pipe(
          Effect.repeat({
            until: (rows) => rows.every((row) => row.claimed_by !== "gone"),
            schedule: Schedule.spaced(50)
          })
        )
        assert.strictEqual(claims.length, 2)
      }))
  })
})

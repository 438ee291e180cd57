import { Array as Arr, Context, Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { Processor } from "../processors/Processor.ts"
import { emptyTotals, type PaymentsSummary, type RecordedPayment, type SummaryRange, toCents } from "./Payment.ts"

/**
 * How far a recorder has written: every payment its instance got an answer for before `writtenThrough` is stored.
 * Its row in `recorder_marks` lives `aliveForMillis` from when it is written, unless written again.
 */
export interface RecorderMark {
  readonly recorder: string
  readonly instance: string
  readonly writtenThrough: Date
  readonly aliveForMillis: number
}

export class RepositoryError extends Schema.TaggedError<RepositoryError>()("RepositoryError", {
  operation: Schema.String,
  cause: Schema.Defect()
}) {}

export class PaymentRepository extends Context.Service<PaymentRepository, {
  /**
   * Stores the payments, ignoring correlationIds already stored; returns the rows written. With `mark`, the same
   * statement publishes the recorder's mark, so the mark is visible exactly when the payments are.
   */
  readonly insertMany: (
    payments: ReadonlyArray<RecordedPayment>,
    mark?: RecorderMark
  ) => Effect.Effect<ReadonlyArray<RecordedPayment>, RepositoryError>
  /** Publishes the recorder's mark alone. */
  readonly publishMark: (mark: RecorderMark) => Effect.Effect<void, RepositoryError>
  /** The totals of the payments requested in `range` and, when `answeredBy` is given, answered by then. */
  readonly summary: (range: SummaryRange, answeredBy?: Date) => Effect.Effect<PaymentsSummary, RepositoryError>
  readonly purge: Effect.Effect<void, RepositoryError>
  readonly ping: Effect.Effect<void, RepositoryError>
}>()("app/payments/PaymentRepository") {
  static readonly layer: Layer.Layer<PaymentRepository, never, SqlClient.SqlClient> = Layer.effect(
    PaymentRepository,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const fail = (operation: string) => (cause: unknown) => new RepositoryError({ operation, cause })

      const upsertMark = (mark: RecorderMark) =>
        sql`
          INSERT INTO recorder_marks (recorder, instance, written_through, alive_until)
          VALUES (${mark.recorder}, ${mark.instance}, ${mark.writtenThrough},
                  now() + ${mark.aliveForMillis} * interval '1 millisecond')
          ON CONFLICT (recorder) DO UPDATE
            SET written_through = excluded.written_through, alive_until = excluded.alive_until`
      const publishMark = (mark: RecorderMark) => upsertMark(mark).pipe(Effect.asVoid, Effect.mapError(fail("mark")))

      const insertMany = Effect.fn("PaymentRepository.insertMany")(
        function*(payments: ReadonlyArray<RecordedPayment>, mark?: RecorderMark) {
          if (!Arr.isReadonlyArrayNonEmpty(payments)) {
            if (mark !== undefined) yield* publishMark(mark)
            return []
          }
          const rows = Arr.map(payments, (p) => ({
            correlation_id: p.correlationId,
            amount: p.amount.toFixed(2),
            processor: p.processor,
            requested_at: p.requestedAt,
            answered_at: p.answeredAt ?? null
          }))
          // a data-modifying WITH runs whether or not the statement reads it
          const withMark = mark === undefined ? sql`` : sql`WITH mark AS (${upsertMark(mark)})`
          const inserted = yield* sql<{ readonly correlation_id: string }>`
            ${withMark}
            INSERT INTO payments ${sql.insert(rows)}
            ON CONFLICT (correlation_id) DO NOTHING
            RETURNING correlation_id`
          if (inserted.length === payments.length) return payments
          const written = new Set(inserted.map((row) => row.correlation_id))
          return payments.filter((p) => written.has(p.correlationId))
        },
        Effect.mapError(fail("insert"))
      )

      const summary = Effect.fn("PaymentRepository.summary")(
        function*(range: SummaryRange, answeredBy?: Date) {
          const requested = range.from !== undefined && range.to !== undefined
            ? sql`requested_at BETWEEN ${range.from} AND ${range.to}`
            : sql`true`
          const answered = answeredBy === undefined
            ? sql`true`
            : sql`(answered_at IS NULL OR answered_at <= ${answeredBy})`
          const filter = sql`WHERE ${requested} AND ${answered}`
          const rows = yield* sql<{ readonly processor: Processor; readonly count: number; readonly total: string }>`
            SELECT processor, count(*)::int AS count, sum(amount)::text AS total
            FROM payments ${filter}
            GROUP BY processor`
          const result = { default: emptyTotals, fallback: emptyTotals }
          for (const row of rows) {
            result[row.processor] = { totalRequests: row.count, totalAmount: Number(row.total) }
          }
          return result
        },
        Effect.mapError(fail("summary"))
      )

      return PaymentRepository.of({
        insertMany,
        publishMark,
        summary,
        purge: sql`TRUNCATE payments`.pipe(
          Effect.asVoid,
          Effect.mapError(fail("purge")),
          Effect.withSpan("PaymentRepository.purge")
        ),
        ping: sql`SELECT 1`.pipe(Effect.asVoid, Effect.mapError(fail("ping")))
      })
    })
  )

  /** An in-memory repository for tests: same contract, no database, no marks. */
  static readonly layerTest: Layer.Layer<PaymentRepository> = Layer.sync(PaymentRepository, () => {
    const stored = new Map<string, RecordedPayment>()
    // marks are read by peers through the database; in memory there are no peers to read them
    return PaymentRepository.of({
      insertMany: (payments) =>
        Effect.sync(() =>
          payments.filter((p) => {
            if (stored.has(p.correlationId)) return false
            stored.set(p.correlationId, p)
            return true
          })
        ),
      publishMark: () => Effect.void,
      summary: (range, answeredBy) =>
        Effect.sync(() => {
          const cents = { default: 0, fallback: 0 }
          const counts = { default: 0, fallback: 0 }
          const { from, to } = range
          for (const p of stored.values()) {
            if (from !== undefined && to !== undefined && (p.requestedAt < from || p.requestedAt > to)) continue
            if (answeredBy !== undefined && p.answeredAt !== undefined && p.answeredAt > answeredBy) continue
            cents[p.processor] += toCents(p.amount)
            counts[p.processor]++
          }
          return {
            default: { totalRequests: counts.default, totalAmount: cents.default / 100 },
            fallback: { totalRequests: counts.fallback, totalAmount: cents.fallback / 100 }
          }
        }),
      purge: Effect.sync(() => stored.clear()),
      ping: Effect.void
    })
  })
}

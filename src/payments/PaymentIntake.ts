import { Context, Duration, Effect, Exit, Layer, Request, RequestResolver, Schedule, Schema } from "effect"
import { HttpServerRespondable } from "effect/http"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { AppConfig } from "../config/AppConfig.ts"
import { unavailableResponse } from "../http/ApiError.ts"
import type { Processor } from "../processors/Processor.ts"
import type { Attempt, PaymentRequest } from "./Payment.ts"
import { type OfferResult, PaymentQueue, type QueueFull } from "./PaymentQueue.ts"

/** The durable intake cannot store an accepted payment, or purge: 503 `unavailable` with the reason. */
export class IntakeUnavailable extends Schema.TaggedError<IntakeUnavailable>()("IntakeUnavailable", {
  reason: Schema.String
}) {
  [HttpServerRespondable.symbol]() {
    return unavailableResponse(this.reason)
  }
}

const makePostgres = Effect.gen(function*() {
  const config = yield* AppConfig
  const queue = yield* PaymentQueue
  const sql = yield* SqlClient.SqlClient
  const me = `${config.instanceId}-${randomUUID()}`
  const lease = Duration.toMillis(config.intakeLease)
  const unavailable = () => new IntakeUnavailable({ reason: "the payment could not be stored" })

  class Store extends Request.Class<{ readonly payment: PaymentRequest }, boolean, IntakeUnavailable> {}
  const store = RequestResolver.make<Store>((entries) =>
    sql<{ readonly correlation_id: string }>`
      INSERT INTO payment_intake (correlation_id, amount, claimed_by, claimed_until)
      SELECT x.correlation_id, x.amount, ${me}, now() + ${lease} * interval '1 millisecond'
      FROM json_to_recordset(${
      JSON.stringify(entries.map((e) => ({
        correlation_id: e.request.payment.correlationId,
        amount: e.request.payment.amount
      })))
    }::json)
        AS x(correlation_id uuid, amount numeric)
      WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.correlation_id = x.correlation_id)
      ON CONFLICT (correlation_id) DO NOTHING
      RETURNING correlation_id`.pipe(
      Effect.map((rows) => {
        const stored = new Set(rows.map((row) => row.correlation_id))
        for (const entry of entries) {
          entry.completeUnsafe(Exit.succeed(stored.has(entry.request.payment.correlationId)))
        }
      }),
      Effect.catchCause((cause) =>
        Effect.logError("storing accepted payments failed", cause).pipe(
          Effect.andThen(Effect.sync(() => {
            for (const entry of entries) entry.completeUnsafe(Exit.fail(unavailable()))
          }))
        )
      )
    )
  ).pipe(RequestResolver.setDelay("1 millis"), RequestResolver.batchN(500))

  class SaveAttempt extends Request.Class<{ readonly correlationId: string; readonly attempt: Attempt }, void> {}
  const saveAttempt = RequestResolver.make<SaveAttempt>((entries) =>
    sql`
      UPDATE payment_intake i SET processor = x.processor, requested_at = x.requested_at
      FROM json_to_recordset(${
      JSON.stringify(entries.map((e) => ({
        correlation_id: e.request.correlationId,
        processor: e.request.attempt.processor,
        requested_at: e.request.attempt.requestedAt.toISOString()
      })))
    }::json) AS x(correlation_id uuid, processor text, requested_at timestamptz)
      WHERE i.correlation_id = x.correlation_id`.pipe(
      Effect.retry(Schedule.spaced("100 millis")),
      Effect.ensuring(Effect.sync(() => {
        for (const entry of entries) entry.completeUnsafe(Exit.void)
      })),
      Effect.ignore
    )
  ).pipe(RequestResolver.setDelay("1 millis"), RequestResolver.batchN(500))

  const accept = (payment: PaymentRequest) =>
    Effect.gen(function*() {
      if (yield* queue.isFull) return yield* queue.offer(payment)
      const fresh = yield* Effect.request(new Store({ payment }), store)
      if (!fresh) return "duplicate" as const
      return yield* queue.offer(payment)
    })

  // payments claimed by instances that stopped renewing: take them over
  const takeOver = Effect.gen(function*() {
    const room = yield* queue.room
    if (room <= 0) return
    const rows = yield* sql<{
      readonly correlation_id: string
      readonly amount: string
      readonly processor: Processor | null
      readonly requested_at: Date | null
    }>`
      UPDATE payment_intake SET claimed_by = ${me}, claimed_until = now() + ${lease} * interval '1 millisecond'
      WHERE correlation_id IN (
        SELECT correlation_id FROM payment_intake
        WHERE claimed_until < now()
        ORDER BY accepted_at
        LIMIT ${Math.min(room, 1000)}
        FOR UPDATE SKIP LOCKED)
      RETURNING correlation_id, amount::text, processor, requested_at`
    for (const row of rows) {
      yield* queue.restore(
        { correlationId: row.correlation_id, amount: Number(row.amount) },
        row.processor === null || row.requested_at === null
          ? undefined
          : { processor: row.processor, requestedAt: new Date(row.requested_at) }
      )
    }
    if (rows.length > 0) {
      yield* Effect.logWarning("took over payments from an instance that stopped").pipe(
        Effect.annotateLogs({ payments: rows.length })
      )
    }
  })

  const renew = sql`
    UPDATE payment_intake SET claimed_until = now() + ${lease} * interval '1 millisecond'
    WHERE claimed_by = ${me}`

  const every = (interval: Duration.Input, effect: Effect.Effect<unknown, unknown>) =>
    effect.pipe(
      Effect.catchCause((cause) => Effect.logWarning("durable intake upkeep failed", cause)),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.forkScoped
    )
  yield* every(Duration.millis(lease / 3), renew)
  yield* every("1 second", takeOver)

  return PaymentIntake.of({
    accept,
    beforeSend: (correlationId, attempt) => Effect.request(new SaveAttempt({ correlationId, attempt }), saveAttempt),
    recorded: (ids) =>
      ids.length === 0 ? Effect.void : sql`
        DELETE FROM payment_intake
        WHERE correlation_id IN (SELECT value::uuid FROM json_array_elements_text(${JSON.stringify(ids)}::json))`
        .pipe(Effect.retry(Schedule.spaced("100 millis")), Effect.ignore),
    purge: sql`TRUNCATE payment_intake`.pipe(
      Effect.asVoid,
      Effect.mapError(() => new IntakeUnavailable({ reason: "the intake cannot be purged" }))
    )
  })
})

/**
 * Where accepted payments live until they are recorded. In memory (the default) they live in this instance's
 * queue. In `postgres` mode an accepted payment is written to `payment_intake` before the 202, group-committed
 * with the others of the same instant; the instance holds a renewable claim on it, records where each send goes
 * before it leaves, and deletes it once recorded. When an instance dies its claims expire and the others take
 * its payments over, settling any that were mid-send against the processor they went to.
 */
export class PaymentIntake extends Context.Service<PaymentIntake, {
  readonly accept: (payment: PaymentRequest) => Effect.Effect<OfferResult, QueueFull | IntakeUnavailable>
  /** Called before each send; in durable mode it waits until the attempt is stored. */
  readonly beforeSend: (correlationId: string, attempt: Attempt) => Effect.Effect<void>
  /** Called once payments are recorded. */
  readonly recorded: (correlationIds: ReadonlyArray<string>) => Effect.Effect<void>
  readonly purge: Effect.Effect<void, IntakeUnavailable>
}>()("app/payments/PaymentIntake") {
  static readonly layerMemory: Layer.Layer<PaymentIntake, never, PaymentQueue> = Layer.effect(
    PaymentIntake,
    Effect.map(Effect.service(PaymentQueue), (queue) =>
      PaymentIntake.of({
        accept: queue.offer,
        beforeSend: () => Effect.void,
        recorded: () => Effect.void,
        purge: Effect.void
      }))
  )

  static readonly layerPostgres: Layer.Layer<PaymentIntake, never, AppConfig | PaymentQueue | SqlClient.SqlClient> =
    Layer.effect(PaymentIntake, makePostgres)

  static readonly layer: Layer.Layer<PaymentIntake, never, AppConfig | PaymentQueue | SqlClient.SqlClient> = Layer
    .unwrap(
      Effect.map(
        Effect.service(AppConfig),
        (config) => config.intakeDurability === "postgres" ? PaymentIntake.layerPostgres : PaymentIntake.layerMemory
      )
    )
}

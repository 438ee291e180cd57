import { Effect, Layer, Schedule } from "effect"
import { Migrator } from "effect/sql"
import createPayments from "../../migrations/0001_create_payments.ts"
import processorHealth from "../../migrations/0002_processor_health.ts"
import paymentIntake from "../../migrations/0003_payment_intake.ts"
import recorderMarks from "../../migrations/0004_recorder_marks.ts"
import paymentAnsweredAt from "../../migrations/0005_payment_answered_at.ts"

/** Every migration in `migrations/`, by id. A new migration file is added here too. */
export const migrations = Migrator.fromRecord({
  "0001_create_payments": createPayments,
  "0002_processor_health": processorHealth,
  "0003_payment_intake": paymentIntake,
  "0004_recorder_marks": recorderMarks,
  "0005_payment_answered_at": paymentAnsweredAt
})

export const runMigrations = Migrator.make({})({ loader: migrations })

/**
 * Runs the pending migrations while the layer is built: whatever depends on the database sees the current schema.
 * A failed run is retried whole (it is one transaction): PGlite served over TCP to several instances at once (the
 * tests' shared database) can fail a statement when two connections' messages interleave at startup.
 */
export const MigrationsLive = Layer.effectDiscard(
  runMigrations.pipe(Effect.retry({
    times: 4,
    schedule: Schedule.exponential("100 millis"),
    // a refused connection or a rejected password fails at once, as before
    while: (error) => error._tag === "SqlError" && error.reason._tag === "UnknownError"
  }))
)

import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { LoggingLive } from "../observability/Logging.ts"
import { clientLayer } from "./Database.ts"
import { runMigrations } from "./Migrations.ts"

const program = Effect.gen(function*() {
  const applied = yield* runMigrations
  yield* Effect.logInfo(applied.length === 0 ? "schema is up to date" : "migrations applied").pipe(
    Effect.annotateLogs({ applied: applied.map(([id, name]) => `${id}_${name}`).join(", ") })
  )
})

const DatabaseClient = Layer.unwrap(Effect.gen(function*() {
  const { database } = yield* AppConfig
  return clientLayer(database)
}))

program.pipe(
  Effect.provide(DatabaseClient.pipe(Layer.provideMerge(LoggingLive), Layer.provide(AppConfig.layer))),
  NodeRuntime.runMain
)

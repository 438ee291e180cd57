import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option } from "effect"
import { AppConfig, type DatabaseSettings } from "../config/AppConfig.ts"
import { MigrationsLive } from "./Migrations.ts"

const applicationName = "rinha-payments"

export const clientLayer = (settings: DatabaseSettings) => {
  switch (settings._tag) {
    case "Url":
      return PgClient.layer({
        url: settings.url,
        ssl: settings.ssl,
        maxConnections: settings.poolSize,
        applicationName
      })
    case "Params":
      return PgClient.layer({
        host: settings.host,
        port: settings.port,
        username: settings.user,
        database: settings.database,
        ssl: settings.ssl,
        maxConnections: settings.poolSize,
        applicationName,
        ...Option.match(settings.password, { onNone: () => ({}), onSome: (password) => ({ password }) })
      })
    case "Embedded":
      return Layer.unwrap(Effect.gen(function*() {
        const { startEmbeddedPostgres } = yield* Effect.promise(() => import("./EmbeddedPostgres.ts"))
        const path = yield* startEmbeddedPostgres({
          dataDir: settings.dataDir,
          maxConnections: settings.poolSize + 1
        })
        yield* Effect.logInfo("no database configured: using an embedded PGlite").pipe(
          Effect.annotateLogs({ dataDir: Option.getOrElse(settings.dataDir, () => "memory") })
        )
        return PgClient.layer({
          path,
          username: "postgres",
          database: "postgres",
          maxConnections: settings.poolSize,
          applicationName
        })
      }))
  }
}

/** The SQL client chosen by configuration (DATABASE_URL, DB_* or the embedded default), migrated before use. */
export const DatabaseLive = Layer.unwrap(Effect.gen(function*() {
  const { database } = yield* AppConfig
  return MigrationsLive.pipe(Layer.provideMerge(clientLayer(database)))
}))

import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Option } from "effect"
import { AppConfig, type AppSettings, type DatabaseSettings } from "../config/AppConfig.ts"
import { MigrationsLive } from "./Migrations.ts"

const applicationName = "rinha-payments"

/**
 * What every connection gets: a deadline for TCP connect, TLS, startup and authentication together, and the server's
 * `statement_timeout` in milliseconds (0 turns it off; PGlite ignores it).
 */
const connectionOptions = (timeouts: AppSettings["databaseTimeouts"]) => {
  const statementMillis = Duration.toMillis(timeouts.statement)
  return {
    applicationName,
    connectTimeout: timeouts.connect,
    startupParameters: {
      statement_timeout: String(Number.isFinite(statementMillis) ? Math.ceil(statementMillis) : 0)
    }
  }
}

/**
 * The pool's size: `DB_POOL_SIZE` for statements, and one more that listens for other instances' summaries
 * (`PeerRecorders`). PGlite runs one session, on which connections take turns (`PgliteWire`): a second connection of
 * the service's would only wait for the first. So the embedded database gets one connection, whatever `DB_POOL_SIZE`
 * says, and serving one instance alone it listens for nobody.
 */
export const poolSizeOf = (settings: DatabaseSettings): number =>
  settings._tag === "Embedded" ? 1 : settings.poolSize + 1

export const clientLayer = (settings: DatabaseSettings) =>
  Layer.unwrap(Effect.gen(function*() {
    const common = connectionOptions((yield* AppConfig).databaseTimeouts)
    switch (settings._tag) {
      case "Url":
        return PgClient.layer({
          ...common,
          url: settings.url,
          ssl: settings.ssl,
          maxConnections: poolSizeOf(settings)
        })
      case "Params":
        return PgClient.layer({
          ...common,
          host: settings.host,
          port: settings.port,
          username: settings.user,
          database: settings.database,
          ssl: settings.ssl,
          maxConnections: poolSizeOf(settings),
          ...Option.match(settings.password, { onNone: () => ({}), onSome: (password) => ({ password }) })
        })
      case "Embedded": {
        const { defaultTemplatePath, startEmbeddedPostgres } = yield* Effect.promise(() =>
          import("./EmbeddedPostgres.ts")
        )
        const path = yield* startEmbeddedPostgres({
          dataDir: settings.dataDir,
          // and one more for a broken connection's replacement while it is still being closed
          maxConnections: poolSizeOf(settings) + 1,
          templatePath: yield* defaultTemplatePath
        })
        yield* Effect.logInfo("no database configured: using an embedded PGlite").pipe(
          Effect.annotateLogs({ dataDir: Option.getOrElse(settings.dataDir, () => "memory") })
        )
        return PgClient.layer({
          ...common,
          path,
          username: "postgres",
          database: "postgres",
          maxConnections: poolSizeOf(settings)
        })
      }
    }
  }))

/** The SQL client chosen by configuration (DATABASE_URL, DB_* or the embedded default), migrated before use. */
export const DatabaseLive = Layer.unwrap(Effect.gen(function*() {
  const { database } = yield* AppConfig
  return MigrationsLive.pipe(Layer.provideMerge(clientLayer(database)))
}))

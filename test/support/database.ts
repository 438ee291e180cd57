import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { AppConfig, type AppSettings, type DatabaseSettings } from "../../src/config/AppConfig.ts"
import { pgliteServerCommand } from "../../tools/process/PgliteServerCommand.ts"
import { waitTcp } from "../../tools/process/Processes.ts"
import { freePort, startNode } from "./process.ts"

/** The PostgreSQL the suite runs against: DATABASE_URL when it is set (CI's second pass), else an embedded PGlite. */
export const databaseUrl = Option.fromNullishOr(process.env.DATABASE_URL)

export const backendName = Option.isSome(databaseUrl) ? "PostgreSQL" : "PGlite"

/**
 * Database settings private to one test layer: a fresh schema on DATABASE_URL, dropped afterwards, or a fresh
 * in-memory PGlite. Test files run in parallel, so none of them shares a `payments` table with another.
 */
export const isolatedDatabase = Effect.gen(function*() {
  if (Option.isNone(databaseUrl)) {
    return { _tag: "Embedded", dataDir: Option.none() } satisfies DatabaseSettings
  }
  const schema = `test_${crypto.randomUUID().replaceAll("-", "")}`
  const admin = PgClient.layer({ url: Redacted.make(databaseUrl.value), maxConnections: 1 })
  const run = (statement: string) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(Effect.provide(admin), Effect.orDie)
  yield* Effect.acquireRelease(
    run(`CREATE SCHEMA ${schema}`),
    () => run(`DROP SCHEMA ${schema} CASCADE`)
  )
  const url = new URL(databaseUrl.value)
  url.searchParams.set("options", `-c search_path=${schema}`)
  return { _tag: "Url", url: Redacted.make(url.toString()), poolSize: 4, ssl: false } satisfies DatabaseSettings
})

/** The test configuration with a database of its own. */
export const configWithIsolatedDatabase = (
  overrides: Partial<AppSettings> = {},
  env: Readonly<Record<string, string>> = {}
) => Layer.unwrap(Effect.map(isolatedDatabase, (database) => AppConfig.layerTest({ ...overrides, database }, env)))

/**
 * A database several service processes can share: a fresh schema on DATABASE_URL, or else a PGlite served over
 * TCP by a child process (`tools/process/PgliteServer.ts`). Returns its URL; everything is removed when the scope
 * closes.
 */
export const sharedDatabaseUrl = Effect.gen(function*() {
  const settings = yield* isolatedDatabase
  if (settings._tag === "Url") return Redacted.value(settings.url)
  const port = yield* freePort
  const command = pgliteServerCommand(port, 40)
  const server = yield* startNode(command.script, {}, command.args)
  yield* waitTcp(port, { alive: () => server.child.exitCode === null, timeout: "30 seconds" }).pipe(Effect.orDie)
  return command.url
})

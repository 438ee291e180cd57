import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { pgliteServerCommand } from "../process/PgliteServerCommand.ts"
import { freePort, startProcess, waitTcp } from "../process/Processes.ts"

/**
 * The database server the scenarios share. On PostgreSQL each scenario gets a schema of its own; PGlite's socket
 * server ignores a search_path given at connection, so there each scenario starts from a wiped `public` schema.
 */
export type DatabaseServer =
  | { readonly _tag: "Postgres"; readonly url: string }
  | { readonly _tag: "Pglite"; readonly url: string }

/** A PGlite served over TCP by a child process (with `env`, logging to `dir`), until the scope closes. */
export const startPglite = (dir: string, env: Readonly<Record<string, string | undefined>>) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const command = pgliteServerCommand(port, 40)
    const server = yield* startProcess({
      name: "pglite",
      command: globalThis.process.execPath,
      args: [command.script, ...command.args],
      env,
      dir
    })
    yield* waitTcp(port, { alive: () => server.child.exitCode === null, timeout: "60 seconds" }).pipe(Effect.orDie)
    return { _tag: "Pglite", url: command.url } satisfies DatabaseServer
  })

const runOn = (url: string, statements: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const statement of statements) yield* sql.unsafe(statement)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.orDie)

/** A database of the scenario's own on `server`; returns the URL the instances connect to. */
export const scenarioDatabase = (server: DatabaseServer) =>
  Effect.gen(function*() {
    if (server._tag === "Pglite") {
      yield* runOn(server.url, ["DROP SCHEMA public CASCADE", "CREATE SCHEMA public"])
      return server.url
    }
    const schema = `faults_${crypto.randomUUID().replaceAll("-", "")}`
    yield* Effect.acquireRelease(
      runOn(server.url, [`CREATE SCHEMA ${schema}`]),
      () => runOn(server.url, [`DROP SCHEMA ${schema} CASCADE`])
    )
    const url = new URL(server.url)
    url.searchParams.set("options", `-c search_path=${schema}`)
    return url.toString()
  })

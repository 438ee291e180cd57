import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { PGlite } from "@electric-sql/pglite"
import { Effect, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { defaultTemplatePath, saveTemplate } from "../../../src/database/EmbeddedPostgres.ts"
import { waitTcp } from "../../../tools/process/Processes.ts"
import { freePort, startNode } from "../../support/process.ts"

const scratchFolder = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "pglite-server-test-"))),
  (folder) => Effect.promise(() => rm(folder, { recursive: true, force: true }))
)

describe("tools/process/PgliteServer.ts", () => {
  it.live(
    "serves over TCP an in-memory database started from the template in TMPDIR, and stops on SIGTERM",
    () =>
      Effect.gen(function*() {
        const folder = yield* scratchFolder
        const templateName = basename(Option.getOrThrow(yield* defaultTemplatePath))
        // a template with a table initdb never makes: a server that started from it has the table
        const marked = yield* Effect.promise(() => PGlite.create("memory://"))
        yield* Effect.promise(() => marked.exec("CREATE TABLE from_the_template (id int)"))
        yield* saveTemplate(marked, join(folder, templateName))
        yield* Effect.promise(() => marked.close())

        const port = yield* freePort
        const server = yield* startNode("tools/process/PgliteServer.ts", { TMPDIR: folder }, [
          "--port",
          String(port),
          "--max-connections",
          "3"
        ])
        yield* waitTcp(port, { alive: () => server.child.exitCode === null, timeout: "30 seconds" }).pipe(
          Effect.catch(() => Effect.die(new Error(`the server did not listen:\n${server.output()}`)))
        )
        const found = yield* Effect.flatMap(
          SqlClient.SqlClient,
          (sql) => sql<{ readonly found: string | null }>`SELECT to_regclass('from_the_template')::text AS found`
        ).pipe(
          Effect.provide(PgClient.layer({
            url: Redacted.make(`postgres://postgres@127.0.0.1:${port}/postgres`),
            maxConnections: 1
          }))
        )
        assert.deepStrictEqual(found, [{ found: "from_the_template" }])
        assert.include(server.output(), `PGlite listening on postgres://postgres@127.0.0.1:${port}/postgres`)

        // NodeRuntime.runMain interrupts the program on a signal, which closes the server and PGlite, and exits 130
        server.child.kill("SIGTERM")
        assert.strictEqual(yield* server.exited, 130)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("refuses a port that is not one", () =>
    Effect.gen(function*() {
      const server = yield* startNode("tools/process/PgliteServer.ts", {}, ["--port", "none"])
      assert.notStrictEqual(yield* server.exited, 0)
      yield* server.closed
      assert.include(server.output(), "port")
    }).pipe(Effect.scoped), 30_000)
})

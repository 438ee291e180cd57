import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { basename, join } from "node:path"
import { defaultTemplatePath } from "../../../src/database/EmbeddedPostgres.ts"
import { waitTcp } from "../../../tools/process/Processes.ts"
import { freePort, startNode } from "../../support/process.ts"
import { scratchFolder } from "../../support/scratch.ts"
import { saveMarkedTemplate } from "../../support/template.ts"

describe("tools/process/PgliteServer.ts", () => {
  it.live(
    "serves over TCP an in-memory database started from the template in TMPDIR, and stops on SIGTERM",
    () =>
      Effect.gen(function*() {
        const folder = yield* scratchFolder("pglite-server-test-")
        const templateName = basename(Option.getOrThrow(yield* defaultTemplatePath))
        yield* saveMarkedTemplate(join(folder, templateName))

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

import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql"
import { createHash } from "node:crypto"
import { readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defaultTemplatePath, startEmbeddedPostgres } from "../../src/database/EmbeddedPostgres.ts"
import { scratchFolder } from "../support/scratch.ts"
import { saveMarkedTemplate } from "../support/template.ts"

const templateFolder = scratchFolder("template-test-")

/** Starts an in-memory embedded database with `templatePath`, runs `statement` on it over its socket, stops it. */
const startAndQuery = (templatePath: string, statement: string) =>
  Effect.gen(function*() {
    const path = yield* startEmbeddedPostgres({
      dataDir: Option.none(),
      maxConnections: 2,
      templatePath: Option.some(templatePath)
    })
    return yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<Record<string, unknown>>(statement)).pipe(
      Effect.provide(PgClient.layer({ path, username: "postgres", database: "postgres", maxConnections: 1 }))
    )
  }).pipe(Effect.scoped)

/** Whether the file at `path` is a template as the service writes one: a SHA-256 over the gzipped dump after it. */
const isSoundTemplate = (bytes: Buffer) =>
  bytes.length > 1_000_000
  && createHash("sha256").update(bytes.subarray(32)).digest().equals(bytes.subarray(0, 32))
  && bytes[32] === 0x1f && bytes[33] === 0x8b

describe("the embedded database's template", () => {
  it.live(
    "is saved by the first in-memory start, and a later start loads it instead of running initdb",
    () =>
      Effect.gen(function*() {
        const templatePath = join(yield* templateFolder, "template.tar.gz")

        const first = yield* startAndQuery(templatePath, "SELECT 1 AS one")
        assert.deepStrictEqual(first, [{ one: 1 }])
        assert.isTrue(isSoundTemplate(yield* Effect.promise(() => readFile(templatePath))))

        yield* saveMarkedTemplate(templatePath)
        const second = yield* startAndQuery(templatePath, "SELECT to_regclass('from_the_template')::text AS found")
        assert.deepStrictEqual(second, [{ found: "from_the_template" }])
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "that is damaged or cut short is never loaded: the start runs initdb and writes a sound one",
    () =>
      Effect.gen(function*() {
        const folder = yield* templateFolder
        const sound = join(folder, "sound.tar.gz")
        yield* startAndQuery(sound, "SELECT 1")
        const soundBytes = yield* Effect.promise(() => readFile(sound))

        const damaged = new Map([
          // PGlite given this gzip, cut short, throws where nothing can catch it and the process ends
          ["cut short", soundBytes.subarray(0, soundBytes.length / 2)],
          [
            "a byte changed",
            Buffer.concat([
              soundBytes.subarray(0, 1000),
              Buffer.from([~soundBytes[1000]! & 0xff]),
              soundBytes.subarray(1001)
            ])
          ]
        ])
        for (const [what, bytes] of damaged) {
          const templatePath = join(folder, `${what}.tar.gz`)
          yield* Effect.promise(() => writeFile(templatePath, bytes))
          const rows = yield* startAndQuery(templatePath, "SELECT 1 AS one")
          assert.deepStrictEqual(rows, [{ one: 1 }], what)
          assert.isTrue(isSoundTemplate(yield* Effect.promise(() => readFile(templatePath))), `${what}: replaced`)
        }
      }).pipe(Effect.scoped),
    120_000
  )

  it.effect("is kept in the temporary folder under the installed PGlite's version", () =>
    Effect.gen(function*() {
      const manifest = yield* Effect.promise(() =>
        readFile(join(import.meta.dirname, "../../node_modules/@electric-sql/pglite/package.json"), "utf8")
      )
      const version = /"version":\s*"([^"]+)"/.exec(manifest)?.[1]
      assert.isDefined(version)
      assert.deepStrictEqual(
        yield* defaultTemplatePath,
        Option.some(join(tmpdir(), `rinha-pglite-${version}-initdb.tar.gz`))
      )
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { clientLayer } from "../../src/database/Database.ts"

const statements = Array.from({ length: 24 }, (_, i) => i)

describe("the embedded database's client", () => {
  it.live(
    "keeps statements made at once whole: each gets its own rows, none fails and none waits for ever",
    () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE marks (statement int)`
        for (let round = 0; round < 10; round++) {
          // reads, writes and transactions, all at once, as the service's fibers and a migration make them
          const answers = yield* Effect.forEach(statements, (i) =>
            i % 4 === 0
              ? sql.withTransaction(
                Effect.andThen(
                  sql`INSERT INTO marks VALUES (${i})`,
                  Effect.map(sql<{ marks: number }>`SELECT count(*)::int AS marks FROM marks WHERE statement = ${i}`, (
                    rows
                  ) => rows.map((row) => row.marks))
                )
              )
              : Effect.map(
                sql<{ doubled: number }>`SELECT ${i}::int * 2 AS doubled`,
                (rows) => rows.map((row) => row.doubled)
              ), { concurrency: "unbounded" })
          assert.deepStrictEqual(answers, statements.map((i) => [i % 4 === 0 ? round + 1 : 2 * i]), `round ${round}`)
        }
      }).pipe(
        Effect.timeout("40 seconds"),
        Effect.provide(
          clientLayer({ _tag: "Embedded", dataDir: Option.none() }).pipe(Layer.provide(AppConfig.layerTest()))
        )
      ),
    60_000
  )
})

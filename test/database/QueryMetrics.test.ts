import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { DatabaseLive, poolSizeOf } from "../../src/database/Database.ts"
import { queryLabel, QueryMetricsLive } from "../../src/database/QueryMetrics.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { configWithIsolatedDatabase } from "../support/database.ts"
import { samples } from "../support/metrics.ts"

describe("queryLabel", () => {
  it("names the operation and the first table", () => {
    assert.strictEqual(queryLabel(`INSERT INTO "payments" ("a") VALUES ($1)`), "INSERT payments")
    assert.strictEqual(
      queryLabel("\n  SELECT processor, count(*)::int AS count\n  FROM payments WHERE x"),
      "SELECT payments"
    )
    assert.strictEqual(queryLabel("UPDATE payment_intake SET claimed_until = now()"), "UPDATE payment_intake")
    assert.strictEqual(queryLabel("DELETE FROM payment_intake WHERE correlation_id IN (1)"), "DELETE payment_intake")
    assert.strictEqual(queryLabel("TRUNCATE payments"), "TRUNCATE payments")
    assert.strictEqual(
      queryLabel("WITH mark AS (INSERT INTO recorder_marks VALUES (now() + (1))) INSERT INTO payments (a) VALUES ($1)"),
      "INSERT payments",
      "a WITH clause: the statement it feeds"
    )
    assert.strictEqual(
      queryLabel(
        "WITH a AS (UPDATE lease SET x = 1), b AS (SELECT 1) SELECT (extract(epoch from h.at))::int FROM processor_health h"
      ),
      "SELECT processor_health",
      "a from inside parentheses is not the statement's"
    )
    assert.strictEqual(queryLabel("WITH a AS (SELECT 1"), "WITH", "unbalanced: the first word")
    assert.strictEqual(queryLabel("SELECT 1"), "SELECT")
    assert.strictEqual(queryLabel("BEGIN"), "BEGIN")
    assert.strictEqual(queryLabel(""), "unknown")
  })
})

const Live = DatabaseLive.pipe(
  Layer.provideMerge(QueryMetricsLive),
  Layer.provideMerge(Metrics.layerTest),
  Layer.provideMerge(configWithIsolatedDatabase())
)

const series = Effect.fn(function*(name: string) {
  const metrics = yield* Metrics
  return samples(yield* metrics.exposition, name)
})

layer(Live, { timeout: "60 seconds", excludeTestServices: true })("QueryMetricsLive", (it) => {
  it.effect("times every statement by operation, table and outcome, and counts it in flight meanwhile", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const { database } = yield* AppConfig
      yield* sql`TRUNCATE payments`
      yield* sql`SELECT count(*) FROM payments`
      yield* sql`SELECT count(*) FROM payments`
      const failed = yield* Effect.result(sql`SELECT * FROM no_such_table`)
      assert.strictEqual(failed._tag, "Failure")

      const counts = yield* series("db_query_duration_seconds_count")
      const count = (query: string, outcome: string) =>
        counts.find((v) => v.labels.query === query && v.labels.outcome === outcome)?.value ?? 0
      assert.strictEqual(count("SELECT payments", "ok"), 2)
      assert.strictEqual(count("TRUNCATE payments", "ok"), 1)
      assert.strictEqual(count("SELECT no_such_table", "error"), 1)

      // every pooled connection held elsewhere: a statement waits for one, and counts in flight meanwhile
      const held = yield* Scope.make()
      yield* Effect.replicateEffect(sql.reserve, poolSizeOf(database)).pipe(Scope.provide(held))
      const waiting = yield* Effect.forkChild(sql`SELECT count(*) FROM payments`)
      yield* Effect.sleep("100 millis")
      const during = (yield* series("db_queries_in_flight"))[0]?.value
      yield* Scope.close(held, Exit.void)
      yield* Fiber.join(waiting)
      assert.strictEqual(during, 1, "the waiting statement is in flight")
      assert.strictEqual((yield* series("db_queries_in_flight"))[0]?.value, 0)
      assert.strictEqual((yield* series("db_pool_max_connections"))[0]?.value, poolSizeOf(database))
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { Clock, ConfigProvider, Duration, Effect, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { AppConfig, type DatabaseSettings } from "../../src/config/AppConfig.ts"
import { clientLayer } from "../../src/database/Database.ts"
import { databaseUrl } from "../support/database.ts"
import { fakePostgres } from "./fakePostgres.ts"

const timeouts = (connect: Duration.Input, statement: Duration.Input) => ({
  connect: Duration.fromInputUnsafe(connect),
  statement: Duration.fromInputUnsafe(statement)
})

const query = (settings: DatabaseSettings, databaseTimeouts: ReturnType<typeof timeouts>, statement: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
    Effect.provide(clientLayer(settings).pipe(Layer.provide(AppConfig.layerTest({ databaseTimeouts })))),
    Effect.scoped
  )

const byUrl = (port: number): DatabaseSettings => ({
  _tag: "Url",
  url: Redacted.make(`postgres://postgres@127.0.0.1:${port}/postgres`),
  poolSize: 1,
  ssl: false
})

const byParams = (port: number): DatabaseSettings => ({
  _tag: "Params",
  host: "127.0.0.1",
  port,
  user: "postgres",
  password: Option.none(),
  database: "postgres",
  poolSize: 1,
  ssl: false
})

const elapsed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const result = yield* Effect.result(effect)
    return { result, millis: (yield* Clock.currentTimeMillis) - start }
  })

describe("database timeouts", () => {
  it.effect("DB_CONNECT_TIMEOUT and DB_STATEMENT_TIMEOUT default to 5 and 10 seconds and are read from the env", () =>
    Effect.gen(function*() {
      const read = (env: Record<string, string>) =>
        Effect.map(
          Effect.service(AppConfig).pipe(
            Effect.provide(AppConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))))
          ),
          (settings) => settings.databaseTimeouts
        )
      assert.deepStrictEqual(yield* read({}), timeouts("5 seconds", "10 seconds"))
      assert.deepStrictEqual(
        yield* read({ DB_CONNECT_TIMEOUT: "750 millis", DB_STATEMENT_TIMEOUT: "2 seconds" }),
        timeouts("750 millis", "2 seconds")
      )
      const error = yield* Effect.flip(read({ DB_CONNECT_TIMEOUT: "soon" }))
      assert.include(String(error), "DB_CONNECT_TIMEOUT")
    }))

  for (const [mode, settings] of [["DATABASE_URL", byUrl], ["DB_*", byParams]] as const) {
    it.live(`with ${mode}, a server that accepts and never answers fails the connection at DB_CONNECT_TIMEOUT`, () =>
      Effect.gen(function*() {
        const silent = yield* fakePostgres("silent")
        const { millis, result } = yield* elapsed(
          query(settings(silent.port), timeouts("400 millis", "10 seconds"), "SELECT 1")
        )
        assert.strictEqual(result._tag, "Failure")
        if (result._tag === "Failure") assert.include(String(result.failure), "timed out")
        assert.isAtLeast(silent.connections(), 1)
        assert.isAtLeast(millis, 390)
        assert.isBelow(millis, 3000, "well before the library's own 5 s default")
      }))
  }

  it.live("every connection asks the server for DB_STATEMENT_TIMEOUT, in milliseconds", () =>
    Effect.gen(function*() {
      const server = yield* fakePostgres("rejecting")
      yield* Effect.flip(query(byUrl(server.port), timeouts("2 seconds", "1500 millis"), "SELECT 1"))
      const [startup] = server.startups()
      assert.strictEqual(startup?.statement_timeout, "1500")
      assert.strictEqual(startup?.application_name, "rinha-payments")
    }))

  it.live.skipIf(Option.isNone(databaseUrl))(
    "PostgreSQL cancels a statement that runs past DB_STATEMENT_TIMEOUT",
    () =>
      Effect.gen(function*() {
        const url = Option.getOrThrow(databaseUrl)
        const settings: DatabaseSettings = { _tag: "Url", url: Redacted.make(url), poolSize: 1, ssl: false }
        const shown = yield* query(settings, timeouts("5 seconds", "200 millis"), "SHOW statement_timeout")
        assert.deepStrictEqual(shown, [{ statement_timeout: "200ms" }])
        const { millis, result } = yield* elapsed(
          query(settings, timeouts("5 seconds", "200 millis"), "SELECT pg_sleep(5)")
        )
        assert.strictEqual(result._tag, "Failure")
        if (result._tag === "Failure") {
          const error = result.failure
          assert.strictEqual(error._tag === "SqlError" ? error.reason._tag : error._tag, "StatementTimeoutError")
        }
        assert.isBelow(millis, 3000)
      }),
    { timeout: 20_000 }
  )
})

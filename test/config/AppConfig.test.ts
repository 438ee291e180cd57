import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Option, Redacted } from "effect"
import { AppConfig } from "../../src/config/AppConfig.ts"

const settingsFrom = (env: Record<string, string>) =>
  Effect.service(AppConfig).pipe(
    Effect.provide(AppConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))))
  )

describe("AppConfig", () => {
  it.effect("has a default for every knob, with the embedded database when none is configured", () =>
    Effect.gen(function*() {
      const settings = yield* settingsFrom({})
      assert.strictEqual(settings.port, 9999)
      assert.deepStrictEqual(settings.processorUrls, {
        default: "http://localhost:8001",
        fallback: "http://localhost:8002"
      })
      assert.strictEqual(settings.database._tag, "Embedded")
      assert.isTrue(Option.isNone(settings.otlpEndpoint))
      assert.isTrue(Duration.isGreaterThan(settings.shutdownGrace, Duration.zero))
      assert.strictEqual(Duration.toMillis(settings.eventLoopSampleInterval), 100)
      const sampled = yield* settingsFrom({ EVENT_LOOP_SAMPLE_INTERVAL: "20 millis" })
      assert.strictEqual(Duration.toMillis(sampled.eventLoopSampleInterval), 20)
    }))

  it.effect("reads the database from DATABASE_URL, keeping it redacted, or from DB_*", () =>
    Effect.gen(function*() {
      const byUrl = yield* settingsFrom({ DATABASE_URL: "postgres://app:secret@db:5432/rinha", DB_POOL_SIZE: "3" })
      assert.strictEqual(byUrl.database._tag, "Url")
      if (byUrl.database._tag === "Url") {
        assert.strictEqual(Redacted.value(byUrl.database.url), "postgres://app:secret@db:5432/rinha")
        assert.notInclude(String(byUrl.database.url), "secret")
        assert.strictEqual(byUrl.database.poolSize, 3)
      }
      const byParts = yield* settingsFrom({ DB_HOST: "db", DB_USER: "app", DB_NAME: "rinha", DB_SSL: "true" })
      assert.strictEqual(byParts.database._tag, "Params")
      if (byParts.database._tag === "Params") {
        assert.deepStrictEqual([byParts.database.host, byParts.database.user, byParts.database.database], [
          "db",
          "app",
          "rinha"
        ])
        assert.isTrue(byParts.database.ssl)
      }
    }))

  it.effect("a bad value fails with a message naming the variable", () =>
    Effect.gen(function*() {
      for (
        const [name, value] of [
          ["PORT", "http"],
          ["PAYMENT_WORKERS", "0"],
          ["PAYMENT_QUEUE_CAPACITY", "1.5"],
          ["PROCESSOR_TIMEOUT", "soon"],
          ["PAYMENT_PROCESSOR_URL_DEFAULT", "localhost:8001"],
          ["DB_SSL", "maybe"],
          ["LOG_LEVEL", "Loud"],
          ["ROUTING_DRAIN_MAX_RATE", "-1"],
          ["ROUTING_DRAIN_CPU_TARGET", "1.5"]
        ] as const
      ) {
        const error = yield* Effect.flip(settingsFrom({ [name]: value }))
        assert.include(String(error), name, `${name}=${value}`)
      }
    }))
})

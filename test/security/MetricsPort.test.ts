import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { HttpServerLive } from "../../src/Api.ts"
import { AppConfig, type AppSettings } from "../../src/config/AppConfig.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { PaymentIntake } from "../../src/payments/PaymentIntake.ts"
import { PaymentQueue } from "../../src/payments/PaymentQueue.ts"
import { PaymentRepository } from "../../src/payments/PaymentRepository.ts"
import { freePort } from "../support/process.ts"

/** The production server wiring (HttpServerLive) on real ports, over in-memory services. */
const serve = (overrides: Partial<AppSettings>) =>
  Layer.build(
    HttpServerLive.pipe(
      Layer.provideMerge(PaymentIntake.layerMemory),
      Layer.provideMerge(PaymentQueue.layer),
      Layer.provideMerge(PaymentRepository.layerTest),
      Layer.provideMerge(Metrics.layerTest),
      Layer.provideMerge(AppConfig.layerTest(overrides))
    )
  )

interface Answer {
  readonly status: number
  readonly contentType: string | null
  readonly text: string
}

const request = (url: string, method = "GET") =>
  Effect.tryPromise(() =>
    fetch(url, { method }).then((response) =>
      response.text().then((text): Answer => ({
        status: response.status,
        contentType: response.headers.get("content-type"),
        text
      }))
    )
  )

const healthCounted = "http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1"

const settingsFrom = (env: Record<string, string>) =>
  Effect.service(AppConfig).pipe(
    Effect.provide(AppConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))))
  )

describe("METRICS_PORT", () => {
  it.effect("is unset by default, a port when given, and must be a port other than PORT", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone((yield* settingsFrom({})).metricsPort))
      assert.deepStrictEqual((yield* settingsFrom({ METRICS_PORT: "9100" })).metricsPort, Option.some(9100))
      for (
        const env of [{ METRICS_PORT: "metrics" }, { METRICS_PORT: "9999" }, { PORT: "8080", METRICS_PORT: "8080" }]
      ) {
        const error = yield* Effect.flip(settingsFrom(env))
        assert.include(String(error), "METRICS_PORT", JSON.stringify(env))
      }
    }))

  it.live("unset: /metrics is served on the API port", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      yield* serve({ host: "127.0.0.1", port, metricsPort: Option.none() })
      const api = `http://127.0.0.1:${port}`
      assert.strictEqual((yield* request(`${api}/health`)).status, 200)
      const metrics = yield* request(`${api}/metrics`)
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.contentType, "text/plain")
      assert.include(metrics.text, healthCounted)
    }).pipe(Effect.scoped))

  it.live("set: /metrics is served only on METRICS_PORT, bound on HOST; the API port answers 404 for it", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const metricsPort = yield* freePort
      yield* serve({ host: "127.0.0.2", port, metricsPort: Option.some(metricsPort) })
      const api = `http://127.0.0.2:${port}`
      const metrics = `http://127.0.0.2:${metricsPort}`

      assert.strictEqual((yield* request(`${api}/health`)).status, 200)
      const onApi = yield* request(`${api}/metrics`)
      assert.strictEqual(onApi.status, 404)
      assert.include(onApi.text, "not_found")

      const scraped = yield* request(`${metrics}/metrics`)
      assert.strictEqual(scraped.status, 200)
      assert.include(scraped.contentType, "text/plain")
      assert.include(scraped.text, healthCounted, "the API port's requests are counted in what the metrics port shows")
      assert.strictEqual((yield* request(`${metrics}/health`)).status, 404, "only /metrics there")
      assert.strictEqual((yield* request(`${metrics}/payments-summary`)).status, 404)
      assert.strictEqual((yield* request(`${metrics}/metrics`, "POST")).status, 405)

      const elsewhere = yield* Effect.result(request(`http://127.0.0.1:${metricsPort}/metrics`))
      assert.strictEqual(elsewhere._tag, "Failure", "nothing listens on another address than HOST")
    }).pipe(Effect.scoped))
})

import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Schedule } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { ApiServer } from "../../src/Api.ts"
import { ServicesLive } from "../../src/App.ts"
import type { AppSettings } from "../../src/config/AppConfig.ts"
import { PaymentWorkers } from "../../src/payments/PaymentWorkers.ts"
import * as Simulator from "../../tools/simulator/ProcessorSimulator.ts"
import { backendName, configWithIsolatedDatabase } from "../support/database.ts"

interface Summary {
  readonly default: { readonly totalRequests: number; readonly totalAmount: number }
  readonly fallback: { readonly totalRequests: number; readonly totalAmount: number }
}

const readSummary = (query = "") =>
  HttpClient.get(`/payments-summary${query}`).pipe(
    Effect.flatMap((response) => response.json),
    Effect.map((json) => json as unknown as Summary)
  )

/** Polls the backend's summary until it holds `n` payments in all. */
const summaryReaching = (n: number) =>
  readSummary().pipe(
    Effect.repeat({
      schedule: Schedule.spaced("100 millis"),
      until: (s) => s.default.totalRequests + s.fallback.totalRequests >= n
    }),
    Effect.timeout("60 seconds")
  )

/** The whole service on an ephemeral port, forwarding to the two simulators, on a database of its own. */
const wholeService = (
  processors: { readonly primary: Simulator.SimulatorHandle; readonly secondary: Simulator.SimulatorHandle },
  overrides: Partial<AppSettings>,
  env: Readonly<Record<string, string>> = {}
) =>
  ApiServer.pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provide(PaymentWorkers),
    Layer.provide(ServicesLive),
    Layer.provide(configWithIsolatedDatabase({
      processorUrls: { default: processors.primary.url, fallback: processors.secondary.url },
      ...overrides
    }, env))
  )

const pay = (correlationId: string) =>
  HttpClient.execute(
    HttpClientRequest.post("/payments").pipe(
      HttpClientRequest.bodyText(JSON.stringify({ correlationId, amount: 20.05 }), "application/json")
    )
  ).pipe(Effect.map((response) => response.status))

describe(`the whole service on ${backendName}`, () => {
  it.live(
    "2,000 concurrent payments each appear once, and the summary equals the processors' own",
    () =>
      Effect.gen(function*() {
        const primary = yield* Simulator.make({ fee: 0.07 })
        const secondary = yield* Simulator.make({ fee: 0.1 })
        // hold-for-default off: default fails for the rest of the test, and the payments must go to fallback
        const app = wholeService({ primary, secondary }, { workers: 64 }, { ROUTING_MAX_HOLD: "0 millis" })
        yield* Effect.gen(function*() {
          const ids = Array.from({ length: 2000 }, () => crypto.randomUUID())
          const startedAt = new Date()
          const first = yield* Effect.forEach(ids.slice(0, 1000), pay, { concurrency: 100 })
          yield* primary.setFailure(true)
          const second = yield* Effect.forEach(ids.slice(1000), pay, { concurrency: 100 })
          const statuses = [...first, ...second]
          assert.isTrue(statuses.every((s) => s === 202), "every payment is accepted")

          const duplicates = yield* Effect.forEach(ids.slice(0, 50), pay, { concurrency: 10 })
          assert.isTrue(duplicates.every((s) => s === 202), "a repeated correlationId is accepted again")

          const summary = yield* summaryReaching(2000)
          yield* Effect.sleep("200 millis")
          const settled = yield* readSummary()
          assert.deepStrictEqual(settled, summary, "nothing more arrives: each payment was forwarded once")

          const processors = { default: yield* primary.summary(), fallback: yield* secondary.summary() }
          assert.strictEqual(summary.default.totalRequests + summary.fallback.totalRequests, 2000)
          assert.isAbove(summary.fallback.totalRequests, 0, "default failed for the second half")
          assert.isAbove(summary.default.totalRequests, 0)
          for (const name of ["default", "fallback"] as const) {
            assert.strictEqual(summary[name].totalRequests, processors[name].totalRequests, `${name} count`)
            assert.strictEqual(summary[name].totalAmount, processors[name].totalAmount, `${name} amount`)
          }

          const from = new Date(startedAt.getTime() - 1000)
          const to = new Date(Date.now() + 1000)
          const middle = new Date((from.getTime() + to.getTime()) / 2)
          for (const [lower, upper] of [[from, middle], [middle, to]] as const) {
            const windowed = yield* readSummary(`?from=${lower.toISOString()}&to=${upper.toISOString()}`)
            const range = { from: lower, to: upper }
            assert.strictEqual(windowed.default.totalRequests, (yield* primary.summary(range)).totalRequests)
            assert.strictEqual(windowed.fallback.totalRequests, (yield* secondary.summary(range)).totalRequests)
          }
        }).pipe(Effect.provide(app))
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )

  it.live(
    "sends that time out while the processor still works are settled there, once each",
    () =>
      Effect.gen(function*() {
        const primary = yield* Simulator.make({ fee: 0.07 })
        const secondary = yield* Simulator.make({ fee: 0.1 })
        yield* primary.setDelay(700)
        const app = wholeService({ primary, secondary }, { processorTimeout: Duration.millis(300) })
        yield* Effect.gen(function*() {
          const ids = Array.from({ length: 100 }, () => crypto.randomUUID())
          const statuses = yield* Effect.forEach(ids, pay, { concurrency: 20 })
          assert.isTrue(statuses.every((s) => s === 202))
          const summary = yield* summaryReaching(100)
          yield* Effect.sleep("1 second")
          const processors = { default: yield* primary.summary(), fallback: yield* secondary.summary() }
          assert.strictEqual(processors.default.totalRequests + processors.fallback.totalRequests, 100, "none twice")
          assert.strictEqual(summary.default.totalRequests, processors.default.totalRequests)
          assert.strictEqual(summary.fallback.totalRequests, processors.fallback.totalRequests)
          assert.isAbove(summary.default.totalRequests, 0, "the timed-out sends were settled on default")
        }).pipe(Effect.provide(app))
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})

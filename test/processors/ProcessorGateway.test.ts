import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Layer, Option } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { AppConfig, type AppSettings } from "../../src/config/AppConfig.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { ProcessorGateway, type ProcessorUnavailable } from "../../src/processors/ProcessorGateway.ts"
import * as Simulator from "../../tools/simulator/ProcessorSimulator.ts"

const payment = (n: number, requestedAt = new Date("2025-08-20T12:00:00.123Z")) => ({
  correlationId: `1c2d3e4f-5a6b-4c7d-8e9f-${String(n).padStart(12, "0")}`,
  amount: 20.05,
  requestedAt
})

/** Two simulators and the live gateway pointed at them. */
const setup = Effect.fn(function*(
  overrides: Partial<AppSettings> = {},
  simulatorOptions: Partial<Simulator.SimulatorOptions> = {}
) {
  const primary = yield* Simulator.make({ fee: 0.07, ...simulatorOptions })
  const secondary = yield* Simulator.make({ fee: 0.1 })
  const layer = ProcessorGateway.layer.pipe(
    Layer.provideMerge(Metrics.layerTest),
    Layer.provide(AppConfig.layerTest({
      processorUrls: { default: primary.url, fallback: secondary.url },
      processorTimeout: Duration.millis(400),
      ...overrides
    }))
  )
  const context = yield* Layer.build(layer)
  return { primary, secondary, gateway: Context.get(context, ProcessorGateway), context }
})

describe("ProcessorGateway against the simulator", () => {
  it.live("sends {correlationId, amount, requestedAt} and reads 200 as processed, 422 as duplicate", () =>
    Effect.gen(function*() {
      const { gateway, primary, secondary } = yield* setup()
      assert.strictEqual(yield* gateway.send("default", payment(1)), "processed")
      assert.strictEqual(yield* gateway.send("default", payment(1)), "duplicate")
      const stored = yield* gateway.lookup("default", payment(1).correlationId)
      assert.deepStrictEqual(Option.getOrUndefined(stored), {
        amount: 20.05,
        requestedAt: new Date("2025-08-20T12:00:00.123Z")
      })
      const exact = { from: payment(1).requestedAt, to: payment(1).requestedAt }
      assert.strictEqual((yield* primary.summary(exact)).totalRequests, 1)
      assert.strictEqual((yield* secondary.summary()).totalRequests, 0)
      assert.deepStrictEqual(yield* gateway.lookup("fallback", payment(1).correlationId), Option.none())
    }).pipe(Effect.scoped))

  it.live("a failing processor is unavailable after its delay, and stores nothing", () =>
    Effect.gen(function*() {
      const { gateway, primary } = yield* setup()
      yield* primary.setFailure(true)
      yield* primary.setDelay(50)
      const error = yield* Effect.flip(gateway.send("default", payment(2)))
      assert.strictEqual(error._tag, "ProcessorUnavailable")
      assert.strictEqual(error.reason, "status 500")
      assert.strictEqual((yield* primary.summary()).totalRequests, 0)
    }).pipe(Effect.scoped))

  it.live("a 429 from the processor's concurrency limit is unavailable", () =>
    Effect.gen(function*() {
      const { gateway, primary } = yield* setup({}, { maxInFlight: 1, maxQueued: 0 })
      yield* primary.setDelay(200)
      const results = yield* Effect.all(
        [gateway.send("default", payment(3)), gateway.send("default", payment(4))],
        { concurrency: 2, mode: "result" }
      )
      const failures = results.filter((r) => r._tag === "Failure").map((r) => r.failure)
      assert.strictEqual(failures.length, 1)
      assert.strictEqual(failures[0]._tag, "ProcessorUnavailable")
      assert.strictEqual(failures[0].reason, "status 429")
      assert.strictEqual((yield* primary.summary()).totalRequests, 1)
    }).pipe(Effect.scoped))

  it.live("a send that times out waiting for the answer is ambiguous, and the processor still stores it", () =>
    Effect.gen(function*() {
      const { gateway, primary } = yield* setup({ processorTimeout: Duration.millis(150) })
      yield* primary.setDelay(600)
      const error = yield* Effect.flip(gateway.send("default", payment(5)))
      assert.strictEqual(error._tag, "ProcessorAmbiguous")
      assert.strictEqual(error.reason, "timeout")
      assert.strictEqual((yield* primary.summary()).totalRequests, 0, "not stored yet: the delay is running")
      yield* Effect.sleep("700 millis")
      assert.strictEqual((yield* primary.summary()).totalRequests, 1, "the client abort did not cancel it")
      assert.isTrue(Option.isSome(yield* gateway.lookup("default", payment(5).correlationId)))
      yield* primary.setDelay(0)
      assert.strictEqual(yield* gateway.send("default", payment(5)), "duplicate")
    }).pipe(Effect.scoped))

  it.live("connection refused is unavailable: nothing was sent", () =>
    Effect.gen(function*() {
      const closed = yield* Effect.scoped(Effect.map(Simulator.make({ fee: 0.07 }), (s) => s.url))
      const { gateway } = yield* setup({ processorUrls: { default: closed, fallback: closed } })
      const error = yield* Effect.flip(gateway.send("default", payment(6)))
      assert.strictEqual(error._tag, "ProcessorUnavailable")
      assert.strictEqual(error.reason, "ECONNREFUSED")
    }).pipe(Effect.scoped))

  it.live("no free connection within the acquire timeout is unavailable, and that payment is never sent", () =>
    Effect.gen(function*() {
      const { gateway, primary } = yield* setup({
        processorConnections: 1,
        processorAcquireTimeout: Duration.millis(100),
        processorTimeout: Duration.seconds(2)
      })
      yield* primary.setDelay(400)
      const [first, second] = yield* Effect.all(
        [gateway.send("default", payment(7)), Effect.delay(gateway.send("default", payment(8)), "20 millis")],
        { concurrency: 2, mode: "result" }
      )
      assert.strictEqual(first._tag, "Success")
      assert.strictEqual(second._tag, "Failure")
      if (second._tag === "Failure") assert.strictEqual(second.failure.reason, "no connection available")
      const stats = yield* primary.stats
      assert.strictEqual(stats.paymentRequests, 1, "the second payment never reached the processor")
    }).pipe(Effect.scoped))

  it.live("records processor latency by processor and outcome", () =>
    Effect.gen(function*() {
      const { gateway, primary, context } = yield* setup()
      yield* gateway.send("default", payment(9))
      yield* primary.setFailure(true)
      yield* Effect.flip(gateway.send("default", payment(10)))
      const metrics = Context.get(context, Metrics)
      const text = yield* metrics.exposition
      assert.match(text, /processor_request_duration_seconds_count\{processor="default",outcome="200"\} 1/)
      assert.match(text, /processor_request_duration_seconds_count\{processor="default",outcome="500"\} 1/)
    }).pipe(Effect.scoped))

  it.live("a lookup or health call whose answer stalls after the headers times out, and frees its connection", () =>
    Effect.gen(function*() {
      const stalling = yield* Effect.acquireRelease(
        Effect.callback<Server>((resume) => {
          const server = createServer((_request, response) => {
            response.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
            response.write("{")
          })
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => server.close())
      )
      const url = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`
      const { gateway } = yield* setup({
        processorUrls: { default: url, fallback: url },
        processorTimeout: Duration.millis(300),
        processorConnections: 1,
        health: {
          pollInterval: Duration.seconds(5),
          timeout: Duration.millis(300),
          lease: Duration.seconds(3),
          refreshInterval: Duration.millis(250)
        }
      })
      const timesOut = Effect.fn(function*<A>(call: Effect.Effect<A, ProcessorUnavailable>) {
        const started = yield* Clock.currentTimeMillis
        const error = yield* Effect.flip(call)
        assert.strictEqual(error._tag, "ProcessorUnavailable")
        assert.isBelow((yield* Clock.currentTimeMillis) - started, 2000)
      })
      yield* timesOut(gateway.lookup("default", payment(9).correlationId))
      yield* timesOut(gateway.health("default"))
      // the only connection permit came back: a second lookup is refused by the stall again, not by the pool
      const again = yield* Effect.flip(gateway.lookup("default", payment(10).correlationId))
      assert.strictEqual(again.reason, "lookup timeout")
    }).pipe(Effect.scoped))
})

import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Exit, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { DatabaseLive } from "../../src/database/Database.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { ProcessorGateway } from "../../src/processors/ProcessorGateway.ts"
import { ProcessorHealth } from "../../src/processors/ProcessorHealth.ts"
import * as Simulator from "../../tools/simulator/ProcessorSimulator.ts"
import { configWithIsolatedDatabase } from "../support/database.ts"
import { samples } from "../support/metrics.ts"

/** One service instance's health machinery, on the shared database, in a scope of its own. */
const startInstance = Effect.fn(function*(shared: Context.Context<AppConfig | SqlClient.SqlClient>, name: string) {
  const scope = yield* Scope.make()
  const context = yield* Layer.buildWithScope(
    ProcessorHealth.layer.pipe(
      Layer.provideMerge(ProcessorGateway.layer),
      Layer.provideMerge(Metrics.layerTest),
      Layer.provide(Layer.succeed(SqlClient.SqlClient, Context.get(shared, SqlClient.SqlClient))),
      Layer.provide(Layer.succeed(AppConfig, { ...Context.get(shared, AppConfig), instanceId: name }))
    ),
    scope
  )
  const metrics = Context.get(context, Metrics)
  const isPoller = Effect.map(metrics.exposition, (text) => samples(text, "processor_health_poller")[0]?.value === 1)
  return { scope, health: Context.get(context, ProcessorHealth), isPoller }
})

describe("shared processor health", () => {
  it.live(
    "one elected poller; at most one health call per processor per 5 s; another takes over when it dies",
    () =>
      Effect.gen(function*() {
        const primary = yield* Simulator.make({ fee: 0.07 })
        const secondary = yield* Simulator.make({ fee: 0.1 })
        const shared = yield* Layer.build(
          DatabaseLive.pipe(Layer.provideMerge(configWithIsolatedDatabase({
            processorUrls: { default: primary.url, fallback: secondary.url },
            health: {
              pollInterval: Duration.millis(5100),
              timeout: Duration.seconds(2),
              lease: Duration.millis(1500),
              refreshInterval: Duration.millis(100)
            }
          })))
        )
        const a = yield* startInstance(shared, "a")
        const b = yield* startInstance(shared, "b")
        yield* Effect.sleep("1 second")
        const pollers = [yield* a.isPoller, yield* b.isPoller]
        assert.strictEqual(pollers.filter(Boolean).length, 1, "exactly one instance polls")

        yield* primary.setFailure(true)
        yield* primary.setDelay(700)
        yield* Effect.sleep("5.5 seconds")
        for (const instance of [a, b]) {
          const view = yield* instance.health.view("default")
          assert.isTrue(view.failing, "every instance learns that default fails")
          assert.strictEqual(view.delay, 700)
        }

        const [leader, other] = (yield* a.isPoller) ? [a, b] : [b, a]
        yield* Scope.close(leader.scope, Exit.void)
        yield* Effect.sleep("3 seconds")
        assert.isTrue(yield* other.isPoller, "the survivor took the lease over")
        yield* primary.setFailure(false)
        yield* Effect.sleep("5.5 seconds")
        assert.isFalse((yield* other.health.view("default")).failing, "and keeps the health fresh")

        const stats = { default: yield* primary.stats, fallback: yield* secondary.stats }
        for (const [name, s] of Object.entries(stats)) {
          assert.strictEqual(s.healthRejected, 0, `${name}: never over the processor's limit`)
          assert.isAtLeast(s.healthRequests, 3, `${name}: polled all along`)
          assert.isAtMost(s.healthRequests, 4, `${name}: ${s.healthRequests} calls in ~16 s, one per 5.1 s at most`)
        }
        yield* Scope.close(other.scope, Exit.void)
      }).pipe(Effect.scoped),
    { timeout: 60_000 }
  )
})

describe("ProcessorHealth view", () => {
  const view = Effect.fn(function*(test: (made: Effect.Success<typeof ProcessorHealth.make>) => Effect.Effect<void>) {
    const made = yield* ProcessorHealth.make.pipe(
      Effect.provide(Layer.mergeAll(AppConfig.layerTest(), Metrics.layerTest))
    )
    yield* test(made)
  })

  it.effect("says a processor is slower than known once a send outlasts the reading by the tolerance, until the next reading", () =>
    view(({ service, setPolled }) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("10 seconds")
        yield* setPolled("default", { failing: false, minResponseTime: 100, checkedAt: yield* Clock.currentTimeMillis })
        yield* Effect.forkChild(service.track("default", Effect.never, () => "answered"))
        yield* TestClock.adjust("350 millis")
        assert.isFalse(service.viewAt("default", yield* Clock.currentTimeMillis).slowerThanKnown, "within tolerance")
        yield* TestClock.adjust("10 millis")
        const now = yield* Clock.currentTimeMillis
        assert.deepStrictEqual(service.viewAt("default", now), { failing: false, delay: 110, slowerThanKnown: true })
        assert.isFalse(service.viewAt("fallback", now).slowerThanKnown, "the other processor is unaffected")
        yield* setPolled("default", { failing: false, minResponseTime: 2000, checkedAt: now })
        assert.deepStrictEqual(service.viewAt("default", now), { failing: false, delay: 2000, slowerThanKnown: false })
      })
    ))

  it.effect("takes a slower answer since the reading as known: only sends outlasting it by the tolerance are news", () =>
    view(({ service, setPolled }) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("10 seconds")
        yield* setPolled("default", { failing: false, minResponseTime: 100, checkedAt: yield* Clock.currentTimeMillis })
        yield* Effect.forkChild(service.track("default", Effect.sleep("600 millis"), () => "answered"))
        yield* TestClock.adjust("600 millis")
        yield* Effect.forkChild(service.track("default", Effect.never, () => "answered"))
        yield* TestClock.adjust("850 millis")
        assert.isFalse(service.viewAt("default", yield* Clock.currentTimeMillis).slowerThanKnown, "600 ms is known")
        yield* TestClock.adjust("10 millis")
        assert.isTrue(service.viewAt("default", yield* Clock.currentTimeMillis).slowerThanKnown)
      })
    ))

  it.effect("without a fresh reading, the observed delay is the estimate and nothing is 'slower than known'", () =>
    view(({ service }) =>
      Effect.gen(function*() {
        yield* Effect.forkChild(service.track("default", Effect.never, () => "answered"))
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(service.viewAt("default", 1000), { failing: false, delay: 750, slowerThanKnown: false })
      })
    ))

  it.effect("long waits share one tick a second: every waiter wakes at it, a shorter wait keeps its own deadline", () =>
    view(({ service }) =>
      Effect.gen(function*() {
        const long = yield* Effect.forkChild(
          Effect.all(Array.from({ length: 3 }, () => service.awaitChange("5 seconds")), { concurrency: "unbounded" })
        )
        const short = yield* Effect.forkChild(service.awaitChange("300 millis"))
        yield* TestClock.adjust("300 millis")
        assert.isDefined(short.pollUnsafe(), "the short wait ends at its own deadline")
        assert.isUndefined(long.pollUnsafe())
        yield* TestClock.adjust("700 millis")
        assert.isDefined(long.pollUnsafe(), "the long waits end at the shared tick, not after 5 s")
      })
    ))
})

import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { DrainRate, type DrainSettings, nextDrainRate } from "../../src/payments/DrainRate.ts"

const settings: DrainSettings = { base: 150, max: 650, cpuTarget: 0.35 }

/** A DrainRate that reads the CPU from `cpu`, a count of microseconds the test moves on itself. */
const drainWith = (cpu: { micros: number; reads: number }, env: Record<string, string>) =>
  Layer.effect(
    DrainRate,
    DrainRate.make(() => {
      cpu.reads++
      return cpu.micros
    })
  ).pipe(Layer.provide(AppConfig.layerTest({}, env)))

const env = { ROUTING_DRAIN_RATE: "150", ROUTING_DRAIN_MAX_RATE: "650", ROUTING_DRAIN_CPU_TARGET: "0.35" }

describe("nextDrainRate", () => {
  it("rises a tenth of the way to the maximum per reading under the target, and stops there", () => {
    let rate = settings.base
    const seen: Array<number> = []
    for (let i = 0; i < 12; i++) {
      rate = nextDrainRate(rate, 0.2, settings)
      seen.push(rate)
    }
    assert.deepStrictEqual(seen.slice(0, 3), [200, 250, 300])
    assert.strictEqual(seen[9], 650)
    assert.strictEqual(seen[11], 650)
  })

  it("halves over the target, never below the base rate", () => {
    assert.strictEqual(nextDrainRate(600, 0.5, settings), 300)
    assert.strictEqual(nextDrainRate(250, 0.35, settings), 150)
    assert.strictEqual(nextDrainRate(150, 1, settings), 150)
  })
})

describe("DrainRate", () => {
  it.effect("starts at ROUTING_DRAIN_RATE, rises while the process uses less CPU than the target, falls back", () => {
    const cpu = { micros: 0, reads: 0 }
    return Effect.gen(function*() {
      const drain = yield* DrainRate
      assert.strictEqual(drain.current(), 150)
      // 10 ms of CPU in each 100 ms: a tenth of a core, under the target
      for (let i = 0; i < 3; i++) {
        cpu.micros += 10_000
        yield* TestClock.adjust("100 millis")
      }
      assert.strictEqual(drain.current(), 300)
      // 50 ms in 100 ms: half a core, over it
      cpu.micros += 50_000
      yield* TestClock.adjust("100 millis")
      assert.strictEqual(drain.current(), 150)
    }).pipe(Effect.provide(drainWith(cpu, env)))
  })

  it.effect("stays at ROUTING_DRAIN_RATE without reading the CPU when the maximum is no higher", () => {
    const cpu = { micros: 0, reads: 0 }
    return Effect.gen(function*() {
      const drain = yield* DrainRate
      yield* TestClock.adjust("1 second")
      assert.strictEqual(drain.current(), 150)
      assert.strictEqual(cpu.reads, 0)
    }).pipe(Effect.provide(drainWith(cpu, { ...env, ROUTING_DRAIN_MAX_RATE: "150" })))
  })
})

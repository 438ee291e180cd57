import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import type { LimitGroup } from "../../../tools/arena/Limits.ts"
import type { CpuThrottling } from "../../../tools/arena/Model.ts"
import { makeThrottleSampler } from "../../../tools/arena/Throttling.ts"

/** A group whose cpu.stat is whatever the test last set; every other member fails the test if called. */
const fakeGroup = (initial: CpuThrottling | undefined) => {
  let current = initial
  const unexpected = (name: string) => Effect.die(new Error(`unexpected call to LimitGroup.${name}`))
  const group: LimitGroup = {
    add: () => unexpected("add"),
    description: "fake",
    memoryBytes: 0,
    directories: [],
    usage: unexpected("usage"),
    throttling: Effect.sync(() => current)
  }
  return { group, set: (reading: CpuThrottling | undefined) => void (current = reading) }
}

describe("throttle sampler", () => {
  it.effect("keeps the seconds a group was throttled, and totals from its start", () =>
    Effect.gen(function*() {
      const app = fakeGroup({ periods: 100, throttledPeriods: 7, throttledMs: 300 })
      const nginx = fakeGroup({ periods: 50, throttledPeriods: 0, throttledMs: 0 })
      const sampler = yield* makeThrottleSampler(new Map([["app1", app.group], ["nginx", nginx.group]]), {
        interval: "1 second",
        startedAt: 0
      })

      app.set({ periods: 110, throttledPeriods: 9, throttledMs: 341.25 })
      nginx.set({ periods: 60, throttledPeriods: 0, throttledMs: 0 })
      yield* TestClock.adjust("1 second")
      app.set({ periods: 120, throttledPeriods: 9, throttledMs: 341.25 })
      yield* TestClock.adjust("1 second")
      nginx.set({ periods: 65, throttledPeriods: 1, throttledMs: 12 })
      yield* TestClock.adjust("500 millis")

      const { samples, totals } = yield* sampler.finish
      assert.deepStrictEqual(samples, [
        { t: 1, service: "app1", throttledPeriods: 2, throttledMs: 41.3 },
        { t: 2.5, service: "nginx", throttledPeriods: 1, throttledMs: 12 }
      ])
      assert.deepStrictEqual(Object.fromEntries(totals), {
        app1: { periods: 20, throttledPeriods: 2, throttledMs: 41.3 },
        nginx: { periods: 15, throttledPeriods: 1, throttledMs: 12 }
      })

      app.set({ periods: 200, throttledPeriods: 50, throttledMs: 9000 })
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* sampler.finish).samples.length, 3, "finish reads once more, and the timer is gone")
    }))

  it.effect("leaves out a group whose cpu.stat cannot be read", () =>
    Effect.gen(function*() {
      const unreadable = fakeGroup(undefined)
      const sampler = yield* makeThrottleSampler(new Map([["postgres", unreadable.group]]), {
        interval: "1 second",
        startedAt: 0
      })
      unreadable.set({ periods: 10, throttledPeriods: 10, throttledMs: 500 })
      yield* TestClock.adjust("3 seconds")
      const { samples, totals } = yield* sampler.finish
      assert.deepStrictEqual(samples, [])
      assert.strictEqual(totals.size, 0)
    }))
})

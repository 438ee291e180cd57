import { assert, describe, it } from "@effect/vitest"
import type { ProcessorCondition } from "../../src/arena/Model.ts"
import { finalStages, previewStages } from "../../src/arena/Profiles.ts"
import { type Decision, route, type RoutingInput, type RoutingSettings } from "../../src/routing/RoutingPolicy.ts"

const settings: RoutingSettings = { maxDefaultDelay: 1000, maxDelay: 1500, maxHold: 0, utilization: 0.8 }

const input = (
  d: ProcessorCondition,
  f: ProcessorCondition,
  overrides: Partial<Omit<RoutingInput, "default" | "fallback">> = {}
): RoutingInput => ({
  default: { failing: d.failure, delay: d.delay },
  fallback: { failing: f.failure, delay: f.delay },
  arrivalRate: 200,
  capacity: 400,
  heldFor: 0,
  settings,
  ...overrides
})

const where = (decision: Decision) => decision._tag === "Hold" ? "hold" : decision.processor

const ok = (delay: number): ProcessorCondition => ({ delay, failure: false })
const down = (delay: number): ProcessorCondition => ({ delay, failure: true })

describe("RoutingPolicy.route", () => {
  it("routes every stage of the final timeline where it pays and stays consistent (at 600 payments/s)", () => {
    const expected = [
      "default",
      "default",
      "default",
      "fallback",
      "fallback",
      "default",
      "default",
      "default",
      "default",
      "fallback"
    ]
    const got = finalStages.map((s) => where(route(input(s.default, s.fallback, { arrivalRate: 300 }))))
    assert.deepStrictEqual(got, expected)
  })

  it("routes every stage of the preview timeline, holding while both processors fail", () => {
    const got = previewStages.map((s) => where(route(input(s.default, s.fallback))))
    assert.deepStrictEqual(got, ["default", "default", "fallback", "hold", "default", "default"])
  })

  it.each(
    [
      ["both healthy and instant", ok(0), ok(0), "default"],
      ["default slower than fallback but within the preferred delay", ok(1000), ok(0), "default"],
      ["default past the preferred delay, fallback instant", ok(1200), ok(0), "fallback"],
      ["default past the preferred delay, fallback slower still", ok(1200), ok(1400), "default"],
      ["default past the preferred delay, fallback failing", ok(1200), down(0), "default"],
      ["default too close to the 2 s check edge, fallback failing", ok(2000), down(0), "hold"],
      ["default too close to the edge, fallback slow but usable", ok(2000), ok(1000), "fallback"],
      ["default failing, fallback failing", down(0), down(0), "hold"],
      ["default failing, fallback at 5 s", down(0), ok(5000), "hold"],
      ["default instant, fallback failing", ok(0), down(0), "default"],
      ["default failing after 5 s, fallback instant", down(5000), ok(5), "fallback"]
    ] as const
  )("%s → %s", (_, d, f, expected) => {
    assert.strictEqual(where(route(input(d, f))), expected)
  })

  it("leaves default when it cannot absorb the arrival rate at its delay", () => {
    assert.strictEqual(where(route(input(ok(1000), ok(0), { arrivalRate: 300, capacity: 400 }))), "default")
    assert.strictEqual(where(route(input(ok(1000), ok(0), { arrivalRate: 400, capacity: 400 }))), "fallback")
    assert.strictEqual(where(route(input(ok(1000), ok(1000), { arrivalRate: 400, capacity: 400 }))), "hold")
  })

  it("holds for a failing default only when enabled, and only for ROUTING_MAX_HOLD", () => {
    const withHold = { ...settings, maxHold: 60_000 }
    assert.strictEqual(where(route(input(down(2000), ok(1000), { settings: withHold, heldFor: 0 }))), "hold")
    assert.strictEqual(where(route(input(down(2000), ok(1000), { settings: withHold, heldFor: 59_999 }))), "hold")
    assert.strictEqual(where(route(input(down(2000), ok(1000), { settings: withHold, heldFor: 60_000 }))), "fallback")
    assert.strictEqual(where(route(input(ok(2000), ok(0), { settings: withHold }))), "fallback", "slow is not failing")
    assert.strictEqual(where(route(input(down(0), ok(0), { settings: withHold }))), "hold")
    assert.strictEqual(where(route(input(down(0), ok(0)))), "fallback", "off by default")
  })

  it("never routes to a processor whose delay leaves no margin before the 2 s check edge", () => {
    for (const delay of [1501, 2000, 5000]) {
      for (const f of [ok(0), ok(3000), down(0)]) {
        const decision = route(input(ok(delay), f))
        assert.isFalse(decision._tag === "Send" && decision.processor === "default", `default at ${delay} ms`)
      }
    }
  })
})

import { assert, describe, it } from "@effect/vitest"
import type { ProcessorView } from "../../src/processors/Processor.ts"
import { type Decision, route, type RoutingInput, type RoutingSettings } from "../../src/routing/RoutingPolicy.ts"
import type { ProcessorCondition } from "../../tools/arena/Model.ts"
import { finalStages, previewStages } from "../../tools/arena/Profiles.ts"
import { randomStages } from "../../tools/arena/RandomTimeline.ts"

const settings: RoutingSettings = {
  maxDefaultDelay: 1000,
  maxDelay: 1500,
  maxHold: 0,
  drainRate: 500,
  utilization: 0.8
}

const input = (
  d: ProcessorCondition,
  f: ProcessorCondition,
  overrides: Partial<Omit<RoutingInput, "default" | "fallback">> = {}
): RoutingInput => ({
  default: { failing: d.failure, delay: d.delay, slowerThanKnown: false },
  fallback: { failing: f.failure, delay: f.delay, slowerThanKnown: false },
  arrivalRate: 200,
  capacity: 400,
  heldFor: 0,
  backlog: 0,
  room: 20_000,
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
    assert.strictEqual(where(route(input(down(0), ok(0)))), "fallback", "off with ROUTING_MAX_HOLD=0")
  })

  it("holds only what can drain within ROUTING_MAX_HOLD at ROUTING_DRAIN_RATE, with room to spare", () => {
    const held = (overrides: Partial<RoutingInput>, drainRate = 500) =>
      where(route(input(down(0), ok(0), { settings: { ...settings, maxHold: 60_000, drainRate }, ...overrides })))
    // 500 sends per second beyond the arrivals drain 30,000 in 60 s, whatever the arrival rate
    assert.strictEqual(held({ arrivalRate: 200, backlog: 7_200, room: 12_800 }), "hold")
    assert.strictEqual(held({ arrivalRate: 200, backlog: 30_000, room: 30_000 }), "hold")
    assert.strictEqual(held({ arrivalRate: 2_000, backlog: 30_000, room: 30_000 }), "hold")
    assert.strictEqual(held({ arrivalRate: 200, backlog: 30_001, room: 30_000 }), "fallback", "too long to drain")
    assert.strictEqual(held({ arrivalRate: 200, backlog: 3_000, room: 17_000 }, 50), "hold", "50/s: 60 s")
    assert.strictEqual(held({ arrivalRate: 200, backlog: 3_001, room: 16_999 }, 50), "fallback", "50/s: over 60 s")
    assert.strictEqual(held({ arrivalRate: 100, backlog: 10_001, room: 9_999 }), "fallback", "queue half full")
    assert.strictEqual(held({ arrivalRate: 0, backlog: 10, room: 19_990 }), "fallback", "the load has stopped")
  })

  it("never routes to a processor whose delay leaves no margin before the 2 s check edge", () => {
    for (const delay of [1501, 2000, 5000]) {
      for (const f of [ok(0), ok(3000), down(0)]) {
        const decision = route(input(ok(delay), f))
        assert.isFalse(decision._tag === "Send" && decision.processor === "default", `default at ${delay} ms`)
      }
    }
  })

  it("sends nowhere that answers slower than the last health reading said, until the next reading", () => {
    const slower = (view: ProcessorCondition): ProcessorView => ({
      failing: view.failure,
      delay: view.delay,
      slowerThanKnown: true
    })
    const at = (d: ProcessorView, f: ProcessorView) => where(route({ ...input(ok(0), ok(0)), default: d, fallback: f }))
    assert.strictEqual(at(slower(ok(100)), slower(ok(0))), "hold")
    assert.strictEqual(at(slower(ok(100)), { failing: false, delay: 0, slowerThanKnown: false }), "fallback")
    assert.strictEqual(at({ failing: false, delay: 1000, slowerThanKnown: false }, slower(ok(0))), "default")
  })

  // The consistency check counts a payment once its requestedAt is 2 s old. A processor's delay changes without
  // notice and its health may be read once per 5 s, so what routing sees of a stage is, in turn: the previous
  // stage's reading while no send has yet taken longer than it (the exposure no router can avoid, as short as the
  // passive signals' tolerance of 250 ms); the previous reading with a send already slower than it; then the
  // stage's own reading. In the last two no payment may go where the stage answers past the margin.
  const timelines = [
    ["final", finalStages],
    ["preview", previewStages],
    ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((seed) => [`random:${seed}`, randomStages(seed, 300)] as const)
  ] as const
  it.each(timelines)("%s: after evidence of a slowdown, no send that may answer past the edge", (_, stages) => {
    const tolerance = 250
    const views = (previous: ProcessorCondition, current: ProcessorCondition): ReadonlyArray<ProcessorView> => {
      const known = { failing: current.failure, delay: current.delay, slowerThanKnown: false }
      if (current.delay <= previous.delay + tolerance) return [known]
      return [{ failing: previous.failure, delay: previous.delay, slowerThanKnown: true }, known]
    }
    stages.forEach((stage, i) => {
      const previous = stages[i - 1] ?? stage
      for (const d of views(previous.default, stage.default)) {
        for (const f of views(previous.fallback, stage.fallback)) {
          for (const heldFor of [0, 30_000]) {
            const decision = route({
              ...input(ok(0), ok(0), { arrivalRate: 300, heldFor, settings: { ...settings, maxHold: 60_000 } }),
              default: d,
              fallback: f
            })
            if (decision._tag === "Hold") continue
            assert.isAtMost(
              stage[decision.processor].delay,
              settings.maxDelay,
              `stage at ${stage.at} s sent to ${decision.processor}`
            )
          }
        }
      }
    })
  })
})

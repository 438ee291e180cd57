import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import type { Profile } from "../../../tools/arena/Model.ts"
import { customize, finalStages, profiles, vusAt, vuStartAt } from "../../../tools/arena/Profiles.ts"
import { runScenario, type Targets } from "../../../tools/arena/Scenario.ts"
import { ScenarioHttp, type ScenarioRequest } from "../../../tools/load/ScenarioHttp.ts"

interface Seen extends ScenarioRequest {
  readonly t: number
}

const targets: Targets = {
  backend: "http://backend",
  processors: { default: "http://pp-default", fallback: "http://pp-fallback" },
  initialToken: "123"
}

/** Answers like well-behaved processors and backend, instantly, and remembers when each request was made. */
const fakeHttp = () => {
  const seen: Array<Seen> = []
  const layer = Layer.succeed(
    ScenarioHttp,
    ScenarioHttp.of({
      request: (request) =>
        Effect.map(Clock.currentTimeMillis, (t) => {
          seen.push({ ...request, t: t / 1000 })
          const path = new URL(request.url).pathname
          const status = path === "/admin/configurations/token" ? 204 : path === "/payments" ? 202 : 200
          const body = path === "/admin/payments-summary"
            ? JSON.stringify({ totalRequests: 0, totalAmount: 0, totalFee: 0, feePerTransaction: 0.07 })
            : path === "/payments-summary"
            ? JSON.stringify({
              default: { totalRequests: 0, totalAmount: 0 },
              fallback: { totalRequests: 0, totalAmount: 0 }
            })
            : ""
          return { status, ms: 1, body }
        })
    })
  )
  return { seen, layer }
}

const runWithClock = (profile: Profile, http: ReturnType<typeof fakeHttp>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(runScenario(profile, targets))
    for (let i = 0; i < (profile.duration + 30) * 10 && fiber.pollUnsafe() === undefined; i++) {
      yield* TestClock.adjust("100 millis")
    }
    return yield* Fiber.join(fiber)
  }).pipe(Effect.provide(http.layer))

describe("the arena's load schedule", () => {
  it("ramps virtual users linearly from 1 to 603 over 300 s, as k6 ramping-vus does", () => {
    const final = profiles.final
    assert.strictEqual(vusAt(final, 0), 1)
    assert.strictEqual(vusAt(final, 150), 302)
    assert.strictEqual(vusAt(final, 299.99), 602)
    assert.strictEqual(vusAt(final, 300), 603)
    for (const n of [2, 100, 302, 603]) {
      assert.isAtLeast(vusAt(final, vuStartAt(final, n)), n, `VU ${n} is active when it starts`)
      assert.isBelow(vusAt(final, vuStartAt(final, n) - 0.01), n, `VU ${n} is not active before`)
    }
  })

  it.effect("the final profile: ~90.5k payments, the §5.3 stage times, a check every 10 s", () => {
    const http = fakeHttp()
    return Effect.gen(function*() {
      const result = yield* runWithClock(profiles.final, http)
      const setup = http.seen.slice(0, 5).map((r) => `${r.method} ${r.url.replace(/\?.*/, "")}`)
      assert.deepStrictEqual(setup, [
        "PUT http://pp-default/admin/configurations/token",
        "POST http://pp-default/admin/purge-payments",
        "PUT http://pp-fallback/admin/configurations/token",
        "POST http://pp-fallback/admin/purge-payments",
        "POST http://backend/purge-payments"
      ])
      assert.strictEqual(http.seen[0].headers?.["x-rinha-token"], "123")
      const newToken = JSON.parse(http.seen[0].body ?? "{}").token
      assert.notStrictEqual(newToken, "123")
      assert.strictEqual(http.seen[1].headers?.["x-rinha-token"], newToken)

      const posts = http.seen.filter((r) => r.method === "POST" && r.url.endsWith("/payments"))
      assert.strictEqual(result.recorder.successfulPayments, posts.length)
      assert.isTrue(posts.length > 90_000 && posts.length < 91_000, `${posts.length} payments`)
      assert.isTrue(posts.every((p) => p.t < 300), "no payment starts after 300 s")
      const perSecond = (from: number) => posts.filter((p) => p.t >= from && p.t < from + 1).length
      assert.closeTo(perSecond(150), 302, 2)
      assert.closeTo(perSecond(298), 599, 2)
      const body = JSON.parse(posts[0].body ?? "{}")
      assert.strictEqual(body.amount, 20.05)
      assert.match(body.correlationId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)

      const delays = http.seen.filter((r) => r.url.endsWith("/admin/configurations/delay"))
      const times = [...new Set(delays.map((r) => r.t))]
      assert.deepStrictEqual(times, finalStages.map((s) => s.at))
      const at90 = http.seen.filter((r) => r.t === 90 && r.method === "PUT").map((r) => `${r.url} ${r.body}`)
      assert.deepStrictEqual(at90, [
        "http://pp-default/admin/configurations/delay {\"delay\":2000}",
        "http://pp-fallback/admin/configurations/delay {\"delay\":1000}",
        "http://pp-default/admin/configurations/failure {\"failure\":true}",
        "http://pp-fallback/admin/configurations/failure {\"failure\":false}"
      ])

      assert.deepStrictEqual(result.checks.map((c) => c.t), Array.from({ length: 30 }, (_, i) => i * 10))
      const check = result.checks[3]
      assert.strictEqual(Date.parse(check.from), result.startedAt + (30 - 15) * 1000)
      assert.strictEqual(Date.parse(check.to), result.startedAt + (30 - 2) * 1000)
      assert.strictEqual(result.inconsistencies, 0)
      const teardown = http.seen.filter((r) => r.t >= 300 && r.url.includes("/admin/payments-summary"))
      assert.strictEqual(teardown.length, 2)
      const window = new URL(teardown[0].url).searchParams
      assert.strictEqual(Date.parse(window.get("to")!) - Date.parse(window.get("from")!), 360_000)
    })
  }, 120_000)

  it.effect("a --duration override rescales the stages; inconsistencies follow the profile's formula", () => {
    const http = fakeHttp()
    const profile = customize(profiles.preview, { duration: 12, vus: 20 })
    return Effect.gen(function*() {
      const result = yield* runWithClock(profile, http)
      const times = [...new Set(http.seen.filter((r) => r.url.endsWith("/delay")).map((r) => r.t))]
      assert.deepStrictEqual(times, [0.2, 2, 4, 6, 8, 10])
      assert.deepStrictEqual(result.checks.map((c) => c.t), [0, 10])
      assert.strictEqual(Date.parse(result.checks[1].to), result.startedAt + 10_000 - 1500)
      const teardown = http.seen.filter((r) => r.url.includes("/payments-summary") && r.t >= 12)
      assert.strictEqual(teardown.length, 1, "the preview reads the backend's own summary at teardown")
      assert.strictEqual(result.totals.default.feePerTransaction, 0.05)
    })
  })
})

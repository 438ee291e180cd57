import { Clock, Effect, Fiber, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { ScenarioHttp, type ScenarioRequest } from "../load/ScenarioHttp.ts"
import { LatencyRecorder } from "./LatencyRecorder.ts"
import type {
  CheckResult,
  ProcessorAdminSummary,
  ProcessorName,
  ProcessorTotals,
  ProcessorTotalsPair,
  Profile,
  Stage
} from "./Model.ts"
import { vuStartAt } from "./Profiles.ts"

export interface Targets {
  /** Where the load balancer (or the only instance) answers, e.g. http://127.0.0.1:9999. */
  readonly backend: string
  readonly processors: { readonly [P in ProcessorName]: string }
  /** The processors' admin token before setup changes it. */
  readonly initialToken: string
}

export interface AppliedStage {
  readonly stage: Stage
  /** Seconds since the start when the last of its four settings was answered. */
  readonly appliedAt: number
  readonly ok: boolean
}

export interface ScenarioResult {
  readonly recorder: LatencyRecorder
  readonly startedAt: number
  readonly endedAt: number
  readonly inconsistencies: number
  readonly checks: ReadonlyArray<CheckResult>
  readonly stages: ReadonlyArray<AppliedStage>
  /** What the score is computed from at teardown (spec §5.5, §5.6). */
  readonly totals: { readonly [P in ProcessorName]: ProcessorTotals & { readonly feePerTransaction: number } }
}

export class ScenarioError extends Schema.TaggedError<ScenarioError>()("ScenarioError", { message: Schema.String }) {}

const AdminSummary = Schema.Struct({
  totalRequests: Schema.Finite,
  totalAmount: Schema.Finite,
  totalFee: Schema.Finite,
  feePerTransaction: Schema.Finite
})
const Totals = Schema.Struct({ totalRequests: Schema.Finite, totalAmount: Schema.Finite })
const BackendSummary = Schema.Struct({ default: Totals, fallback: Totals })

const decodeJson = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S) => {
  const decode = Schema.decodeUnknownOption(schema)
  return (status: number, body: string) => {
    if (status !== 200) return undefined
    const json = Effect.runSync(Effect.option(Effect.try(() => JSON.parse(body) as unknown)))
    return json._tag === "Some" ? decode(json.value).pipe((o) => o._tag === "Some" ? o.value : undefined) : undefined
  }
}
const decodeAdmin = decodeJson(AdminSummary)
const decodeBackend = decodeJson(BackendSummary)

/**
 * The official test's scenario (rinha-final.js / rinha.js): setup, closed-model virtual users ramping from 1 to
 * the profile's maximum, each POSTing a payment then sleeping a second; a consistency check every interval; the
 * processors' stage timeline; then the teardown reading. Every request counts in the latency record.
 */
export const runScenario = Effect.fn("Arena.runScenario")(function*(profile: Profile, targets: Targets) {
  const http = yield* ScenarioHttp
  const recorder = new LatencyRecorder()
  const startedAt = yield* Clock.currentTimeMillis
  const elapsed = Effect.map(Clock.currentTimeMillis, (now) => (now - startedAt) / 1000)
  const sleepUntil = (second: number) =>
    Effect.flatMap(elapsed, (now) => now < second ? Effect.sleep((second - now) * 1000) : Effect.void)

  const call = (request: ScenarioRequest, payment = false) =>
    Effect.gen(function*() {
      const response = yield* http.request(request)
      recorder.record({ endedAt: Math.max(0, yield* elapsed), ms: response.ms, status: response.status, payment })
      return response
    })

  const token: string = randomUUID()
  const admin = (url: string, method: "GET" | "POST" | "PUT", body?: unknown, useToken = token) =>
    call({
      method,
      url,
      headers: { "x-rinha-token": useToken },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: 10_000
    })

  // setup(): new token on both processors, purge them, purge the backend
  for (const name of ["default", "fallback"] as const) {
    const changed = yield* admin(
      `${targets.processors[name]}/admin/configurations/token`,
      "PUT",
      { token },
      targets.initialToken
    )
    if (changed.status !== 204) {
      return yield* new ScenarioError({ message: `token change on ${name} answered ${changed.status}, not 204` })
    }
    const purged = yield* admin(`${targets.processors[name]}/admin/purge-payments`, "POST")
    if (purged.status !== 200) {
      return yield* new ScenarioError({ message: `purge on ${name} answered ${purged.status}` })
    }
  }
  yield* call({ method: "POST", url: `${targets.backend}/purge-payments`, timeoutMs: profile.requestTimeout })

  const virtualUser = Effect.gen(function*() {
    while ((yield* elapsed) < profile.duration) {
      yield* call({
        method: "POST",
        url: `${targets.backend}/payments`,
        body: JSON.stringify({ correlationId: randomUUID(), amount: profile.amount }),
        timeoutMs: profile.requestTimeout
      }, true)
      yield* Effect.sleep("1 second")
    }
  })

  const payments = Effect.gen(function*() {
    const users: Array<Fiber.Fiber<void>> = []
    for (let n = 1; n <= profile.maxVus; n++) {
      const startAt = vuStartAt(profile, n)
      if (startAt >= profile.duration) break
      yield* sleepUntil(startAt)
      users.push(yield* Effect.forkChild(virtualUser))
    }
    yield* Fiber.joinAll(users)
  })

  const checks: Array<CheckResult> = []
  let inconsistencies = 0
  const count = (summary: ProcessorAdminSummary | undefined) => summary?.totalRequests ?? 0
  const check = Effect.gen(function*() {
    const t = yield* elapsed
    const now = startedAt + t * 1000
    const from = new Date(now - profile.check.windowStart * 1000).toISOString()
    const to = new Date(now - profile.check.windowEnd * 1000).toISOString()
    const query = `from=${from}&to=${to}`
    const [d, f, b] = yield* Effect.all([
      admin(`${targets.processors.default}/admin/payments-summary?${query}`, "GET"),
      admin(`${targets.processors.fallback}/admin/payments-summary?${query}`, "GET"),
      call({ method: "GET", url: `${targets.backend}/payments-summary?${query}`, timeoutMs: profile.requestTimeout })
    ], { concurrency: 3 })
    const backendSummary = decodeBackend(b.status, b.body)
    const processors: ProcessorTotalsPair = {
      default: count(decodeAdmin(d.status, d.body)),
      fallback: count(decodeAdmin(f.status, f.body))
    }
    const backend: ProcessorTotalsPair = {
      default: backendSummary?.default.totalRequests ?? 0,
      fallback: backendSummary?.fallback.totalRequests ?? 0
    }
    const deltaDefault = backend.default - processors.default
    const deltaFallback = backend.fallback - processors.fallback
    const found = profile.check.formula === "sumOfAbs"
      ? Math.abs(deltaDefault) + Math.abs(deltaFallback)
      : Math.abs(deltaDefault + deltaFallback)
    inconsistencies += found
    checks.push({ t, from, to, backend, processors, inconsistencies: found })
  })
  const consistency = Effect.gen(function*() {
    while ((yield* elapsed) < profile.duration) {
      yield* check
      yield* Effect.sleep(profile.check.interval * 1000)
    }
  })

  const applied: Array<AppliedStage> = []
  const applyStage = (stage: Stage) =>
    Effect.gen(function*() {
      yield* sleepUntil(stage.at)
      const settings = [
        ["default", "delay", { delay: stage.default.delay }],
        ["fallback", "delay", { delay: stage.fallback.delay }],
        ["default", "failure", { failure: stage.default.failure }],
        ["fallback", "failure", { failure: stage.fallback.failure }]
      ] as const
      let ok = true
      for (const [name, setting, body] of settings) {
        const response = yield* admin(`${targets.processors[name]}/admin/configurations/${setting}`, "PUT", body)
        ok = ok && response.status === 200
      }
      applied.push({ stage, appliedAt: yield* elapsed, ok })
    })

  const stages = profile.stages.filter((s) => s.at < profile.duration)
  yield* Effect.all([payments, consistency, Effect.forEach(stages, applyStage, { concurrency: "unbounded" })], {
    concurrency: "unbounded",
    discard: true
  })

  // teardown(): the final reading
  const endedAt = yield* Clock.currentTimeMillis
  const window = `from=${new Date(endedAt - profile.teardown.window * 1000).toISOString()}&to=${
    new Date(endedAt).toISOString()
  }`
  const totals = profile.teardown.source === "processors"
    ? yield* Effect.gen(function*() {
      const read = (name: ProcessorName) =>
        Effect.map(admin(`${targets.processors[name]}/admin/payments-summary?${window}`, "GET"), (r) => {
          const s = decodeAdmin(r.status, r.body)
          return {
            totalRequests: s?.totalRequests ?? 0,
            totalAmount: s?.totalAmount ?? 0,
            feePerTransaction: s?.feePerTransaction ?? profile.fees[name]
          }
        })
      return { default: yield* read("default"), fallback: yield* read("fallback") }
    })
    : yield* Effect.map(
      call({ method: "GET", url: `${targets.backend}/payments-summary?${window}`, timeoutMs: profile.requestTimeout }),
      (r) => {
        const s = decodeBackend(r.status, r.body)
        return {
          default: { ...(s?.default ?? { totalRequests: 0, totalAmount: 0 }), feePerTransaction: profile.fees.default },
          fallback: {
            ...(s?.fallback ?? { totalRequests: 0, totalAmount: 0 }),
            feePerTransaction: profile.fees.fallback
          }
        }
      }
    )

  return {
    recorder,
    startedAt,
    endedAt,
    inconsistencies,
    checks,
    stages: applied.sort((a, b) => a.stage.at - b.stage.at),
    totals
  } satisfies ScenarioResult
})

/**
 * The fault matrix's scenarios: each applies its fault under load and checks what must hold. Over the ~400 lines the
 * project aims for: the eight scenarios (30 to 90 lines each) read side by side, in the order of the README's table.
 */
import { Clock, Duration, Effect, Fiber, Option, Schedule } from "effect"
import type { HttpServerError } from "effect/http"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import type { ScenarioHttp } from "../load/ScenarioHttp.ts"
import { metricValue } from "../metrics/Exposition.ts"
import type { ProcessError } from "../process/Processes.ts"
import {
  backlogIn,
  type FaultSetup,
  type Instance,
  type Load,
  type Measured,
  sameSummary,
  seconds,
  startWorld,
  type Summary,
  type Window,
  type World
} from "./Harness.ts"

/** The durations and load of one run of the matrix. */
export interface Profile {
  readonly name: "full" | "ci"
  /** Payments per second across the instances. */
  readonly rate: number
  /** Load before a fault starts and after it ends, seconds. */
  readonly lead: number
  readonly tail: number
  readonly defaultDown: number
  readonly bothDown: number
  readonly concurrencyLimit: number
  readonly delayed: number
  readonly databaseDown: number
  /** Load around an instance's crash or shutdown, seconds; the instance stops halfway. */
  readonly crashLoad: number
  readonly intakeClaimLease: string
  /** Load around the health leader's crash, seconds; the leader dies after `healthWarmup`. */
  readonly healthLoad: number
  readonly healthWarmup: number
  readonly drainTimeout: number
}

export const profiles: Record<Profile["name"], Profile> = {
  full: {
    name: "full",
    rate: 200,
    lead: 5,
    tail: 5,
    defaultDown: 60,
    bothDown: 15,
    concurrencyLimit: 30,
    delayed: 30,
    databaseDown: 30,
    crashLoad: 30,
    intakeClaimLease: "10 seconds",
    healthLoad: 60,
    healthWarmup: 20,
    drainTimeout: 90
  },
  ci: {
    name: "ci",
    rate: 80,
    lead: 1,
    tail: 1.5,
    defaultDown: 6,
    bothDown: 3,
    concurrencyLimit: 4,
    delayed: 4,
    databaseDown: 3,
    crashLoad: 5,
    intakeClaimLease: "2 seconds",
    healthLoad: 12,
    healthWarmup: 6,
    drainTimeout: 45
  }
}

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export interface ScenarioResult extends Measured {
  readonly id: string
  readonly scenario: string
  /** What the fault did and what the figures mean. */
  readonly notes: ReadonlyArray<string>
  /** Properties of this fault beyond the matrix's figures, each of which must hold. */
  readonly checks: ReadonlyArray<Check>
}

export type ScenarioError = ProcessError | HttpServerError.ServeError

export interface Scenario {
  readonly id: string
  readonly title: string
  readonly run: (
    setup: FaultSetup,
    profile: Profile
  ) => Effect.Effect<Omit<ScenarioResult, "id" | "scenario">, ScenarioError, ScenarioHttp>
}

const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail })

const windowSince = (startedAt: Date) =>
  Effect.map(Clock.currentTimeMillis, (now): Window => ({
    from: new Date(startedAt.getTime() - 1000),
    to: new Date(now + 1000)
  }))

const processedSoFar = (world: World) =>
  Effect.map(world.held, ({ onDefault, onFallback }) => onDefault.size + onFallback.size)

const two = [{ name: "a" }, { name: "b" }] as const

/** Load through `lead + fault + tail` seconds, `during` applied for `fault` seconds after `lead`. */
const underLoad = (world: World, profile: Profile, fault: number, options: {
  readonly start: Effect.Effect<void>
  readonly end: Effect.Effect<void>
  readonly burst?: number
}) =>
  Effect.gen(function*() {
    const startedAt = yield* world.now
    const load = yield* world.startLoad({
      rate: profile.rate,
      seconds: profile.lead + fault + profile.tail,
      ...(options.burst === undefined ? {} : { burst: options.burst })
    })
    yield* Effect.sleep(seconds(profile.lead))
    yield* options.start
    yield* Effect.sleep(seconds(fault))
    const atEnd = { accepted: load.accepted.size, processed: yield* processedSoFar(world) }
    yield* options.end
    yield* load.done
    const window = yield* windowSince(startedAt)
    const measured = yield* world.drainAndMeasure(load.accepted, window, seconds(profile.drainTimeout))
    return { measured, load, atEnd }
  })

/** The POSTs that got no 2xx: not accepted, so never lost, though some may have been processed all the same. */
const refusedNote = (load: Load) => {
  const refused = [...load.statuses].filter(([status]) => status < 200 || status >= 300)
  if (refused.length === 0) return []
  const counts = refused.map(([status, n]) => `${n} × ${status === 0 ? "no answer in 2 s" : status}`).join(", ")
  return [`POSTs not acknowledged: ${counts} (such a payment may still be processed: processed > accepted)`]
}

const drainNote = (measured: Measured) =>
  measured.drained
    ? `drained ${(measured.drainMillis / 1000).toFixed(1)} s after the load`
    : `NOT drained within the timeout`

const split = (summary: Summary) =>
  `default ${summary.default.totalRequests} / fallback ${summary.fallback.totalRequests}`

export const defaultDown: Scenario = {
  id: "1",
  title: "default down, hold-for-default off",
  run: (setup, profile) =>
    Effect.gen(function*() {
      // the failover path: with the hold on (the default), the payments would wait for default instead
      const env = { ROUTING_MAX_HOLD: "0 millis" }
      const world = yield* startWorld(setup, { instances: [{ name: "a", env }, { name: "b", env }] })
      const { load, measured } = yield* underLoad(world, profile, profile.defaultDown, {
        start: world.primary.setFailure(true),
        end: world.primary.setFailure(false)
      })
      return {
        ...measured,
        notes: [
          `${profile.defaultDown} s of HTTP 500 from default`,
          split(measured.processors),
          ...refusedNote(load),
          drainNote(measured)
        ],
        checks: [
          check(
            "fallback took payments while default was down",
            measured.processors.fallback.totalRequests > 0,
            split(measured.processors)
          )
        ]
      }
    }).pipe(Effect.scoped)
}

export const bothDown: Scenario = {
  id: "2",
  title: "both processors down",
  run: (setup, profile) =>
    Effect.gen(function*() {
      const world = yield* startWorld(setup, { instances: two })
      const both = (failing: boolean) =>
        Effect.andThen(world.primary.setFailure(failing), world.secondary.setFailure(failing))
      const { atEnd, load, measured } = yield* underLoad(world, profile, profile.bothDown, {
        start: both(true),
        end: both(false)
      })
      const waiting = atEnd.accepted - atEnd.processed
      return {
        ...measured,
        notes: [
          `${profile.bothDown} s of HTTP 500 from both`,
          `${waiting} payments waiting when they came back`,
          ...refusedNote(load),
          drainNote(measured)
        ],
        checks: [check("payments waited while both were down", waiting > 0, `${waiting} waiting`)]
      }
    }).pipe(Effect.scoped)
}

export const concurrencyLimit: Scenario = {
  id: "3",
  title: "processors' concurrency limit (429)",
  run: (setup, profile) =>
    Effect.gen(function*() {
      // the official limit is 800 in flight + 500 queued; lowered so a modest load's bursts overflow it
      const limits = { maxInFlight: 10, maxQueued: 5 }
      const world = yield* startWorld(setup, { instances: [{ name: "a" }], simulator: limits })
      const delay = (ms: number) => Effect.andThen(world.primary.setDelay(ms), world.secondary.setDelay(ms))
      const { load, measured } = yield* underLoad(world, profile, profile.concurrencyLimit, {
        start: delay(100),
        end: delay(0),
        burst: 40
      })
      const rejected = (yield* world.primary.stats).rejectedTooMany + (yield* world.secondary.stats).rejectedTooMany
      return {
        ...measured,
        notes: [
          `limit ${limits.maxInFlight} in flight + ${limits.maxQueued} queued, 100 ms per payment, bursts of 40`,
          `${rejected} answers 429`,
          split(measured.processors),
          ...refusedNote(load),
          drainNote(measured)
        ],
        checks: [check("the processors answered 429", rejected > 0, `${rejected} × 429`)]
      }
    }).pipe(Effect.scoped)
}

export const slowProcessor: Scenario = {
  id: "4",
  title: "5 s delay, PROCESSOR_TIMEOUT 1 s",
  run: (setup, profile) =>
    Effect.gen(function*() {
      const world = yield* startWorld(setup, {
        instances: [{ name: "a", env: { PROCESSOR_TIMEOUT: "1 second" } }]
      })
      const { load, measured } = yield* underLoad(world, profile, profile.delayed, {
        start: world.primary.setDelay(5000),
        end: world.primary.setDelay(0)
      })
      const [instance] = world.instances
      const text = yield* world.metrics(instance)
      const timeouts = metricValue(text, "processor_request_duration_seconds_count", {
        processor: "default",
        outcome: "timeout"
      })
      const sentToDefault = (yield* world.primary.stats).paymentRequests
      return {
        ...measured,
        notes: [
          `default answers after 5 s for ${profile.delayed} s`,
          `${timeouts} sends timed out (ambiguous), settled by lookup on default`,
          `${sentToDefault} POSTs reached default for ${measured.processors.default.totalRequests} it holds`,
          ...refusedNote(load),
          drainNote(measured)
        ],
        checks: [check("some sends were ambiguous", timeouts > 0, `${timeouts} timeouts`)]
      }
    }).pipe(Effect.scoped)
}

export const databaseDown: Scenario = {
  id: "5",
  title: "PostgreSQL unavailable",
  run: (setup, profile) =>
    Effect.gen(function*() {
      // retries from 1 s (capped at 5 s, the default): the recorder is still backing off when the database returns
      const world = yield* startWorld(setup, {
        instances: [{ name: "a", env: { PAYMENT_RETRY_BASE: "1 second" } }],
        proxyDatabase: true
      })
      const proxy = Option.getOrThrow(world.proxy)
      const startedAt = yield* world.now
      const load = yield* world.startLoad({ rate: profile.rate, seconds: profile.lead + profile.databaseDown })
      yield* Effect.sleep(seconds(profile.lead))
      yield* proxy.cut
      const beforeCut = { accepted: load.accepted.size, processed: yield* processedSoFar(world) }
      const probes: Array<{ readonly status: number; readonly body: string }> = []
      const prober = yield* world.backendSummary().pipe(
        Effect.tap((answer) =>
          Effect.sync(() =>
            probes.push({ status: answer.status, body: answer._tag === "Unanswered" ? answer.body : "" })
          )
        ),
        Effect.repeat(Schedule.spaced("500 millis")),
        Effect.forkScoped
      )
      yield* load.done
      yield* Fiber.interrupt(prober)
      const duringCut = {
        accepted: load.accepted.size - beforeCut.accepted,
        processed: (yield* processedSoFar(world)) - beforeCut.processed
      }
      // the processors stop moving once the instance is idle: any 200 from now on must equal their totals
      yield* world.awaitIdle("30 seconds")
      const truth = yield* world.processorSummary()
      yield* proxy.restore
      const restoredAt = yield* Clock.currentTimeMillis
      let unavailable = 0
      let wrong = 0
      let exactAfter = Number.NaN
      yield* world.backendSummary().pipe(
        Effect.tap((answer) =>
          Effect.gen(function*() {
            if (answer._tag === "Unanswered") return unavailable++
            if (!sameSummary(answer.summary, truth)) return wrong++
            exactAfter = (yield* Clock.currentTimeMillis) - restoredAt
          })
        ),
        Effect.repeat({
          schedule: Schedule.spaced("50 millis"),
          until: (answer) => answer._tag === "Answered" && sameSummary(answer.summary, truth)
        }),
        Effect.timeoutOption(seconds(profile.drainTimeout))
      )
      const window = yield* windowSince(startedAt)
      const measured = yield* world.drainAndMeasure(load.accepted, window, seconds(profile.drainTimeout))
      const cutAnswers = probes.filter((probe) => probe.status !== 0)
      const cut503 = cutAnswers.filter((probe) => probe.status === 503)
      const reason = cut503[0]?.body ?? ""
      return {
        ...measured,
        notes: [
          `database cut for ${profile.databaseDown} s: ${duringCut.accepted} accepted and ${duringCut.processed} ` +
          `forwarded meanwhile`,
          `summary during the cut: ${cut503.length}/${cutAnswers.length} answers 503 ${reason}`,
          `after it returned: ${unavailable} × 503, ${wrong} wrong 200s, exact after ${
            Number.isNaN(exactAfter) ? "never" : `${exactAfter} ms`
          }`,
          ...refusedNote(load),
          drainNote(measured)
        ],
        checks: [
          check(
            "payments kept being accepted and forwarded during the cut",
            duringCut.accepted > 0 && duringCut.processed > 0,
            `${duringCut.accepted} accepted, ${duringCut.processed} forwarded`
          ),
          check(
            "the summary answered 503 throughout the cut",
            cutAnswers.length > 0 && cut503.length === cutAnswers.length,
            `${cut503.length} of ${cutAnswers.length}`
          ),
          check("the 503 says why", reason.includes("unavailable"), reason),
          check("no summary was wrong after the database returned", wrong === 0, `${wrong} wrong`),
          check("the summary became exact", !Number.isNaN(exactAfter), `${exactAfter} ms`)
        ]
      }
    }).pipe(Effect.scoped)
}

const backlogOf = (world: World, instance: Instance) => Effect.map(world.metrics(instance), backlogIn)

export const crashDurable: Scenario = {
  id: "6a",
  title: "kill -9 one of two instances (durable intake)",
  run: (setup, profile) =>
    Effect.gen(function*() {
      const env = {
        INTAKE_DURABILITY: "postgres",
        INTAKE_CLAIM_LEASE: profile.intakeClaimLease,
        PAYMENT_WORKERS: "16"
      }
      const world = yield* startWorld(setup, { instances: [{ name: "a", env }, { name: "b", env }] })
      yield* world.primary.setDelay(200)
      const startedAt = yield* world.now
      const load = yield* world.startLoad({ rate: profile.rate, seconds: profile.crashLoad })
      yield* Effect.sleep(seconds(profile.crashLoad / 2))
      const [victim] = world.instances
      const inHand = yield* backlogOf(world, victim)
      yield* world.stop(victim, "SIGKILL")
      yield* load.done
      const window = yield* windowSince(startedAt)
      const measured = yield* world.drainAndMeasure(load.accepted, window, seconds(profile.drainTimeout))
      return {
        ...measured,
        notes: [
          `instance a killed halfway with ${inHand} payments queued or in flight; claim lease ${profile.intakeClaimLease}`,
          ...refusedNote(load),
          drainNote(measured)
        ],
        checks: [check("the killed instance held payments", inHand > 0, `${inHand} in hand`)]
      }
    }).pipe(Effect.scoped)
}

export const shutdownMemory: Scenario = {
  id: "6b",
  title: "SIGTERM one of two instances (memory intake)",
  run: (setup, profile) =>
    Effect.gen(function*() {
      // 100 ms per payment and workers for 80 % of an instance's share: a queue builds up
      const workers = Math.max(1, Math.round((0.8 * profile.rate) / 2 / 10))
      const env = { PAYMENT_WORKERS: String(workers), SHUTDOWN_GRACE: "20 seconds" }
      const world = yield* startWorld(setup, { instances: [{ name: "a", env }, { name: "b", env }] })
      yield* world.primary.setDelay(100)
      const startedAt = yield* world.now
      const load = yield* world.startLoad({ rate: profile.rate, seconds: profile.crashLoad })
      yield* Effect.sleep(seconds(profile.crashLoad / 2))
      const [victim] = world.instances
      const inHand = yield* backlogOf(world, victim)
      const stoppedAt = yield* Clock.currentTimeMillis
      const code = yield* world.stop(victim, "SIGTERM")
      const exitMillis = (yield* Clock.currentTimeMillis) - stoppedAt
      yield* load.done
      const window = yield* windowSince(startedAt)
      const measured = yield* world.drainAndMeasure(load.accepted, window, seconds(profile.drainTimeout))
      return {
        ...measured,
        notes: [
          `instance a got SIGTERM halfway with ${inHand} payments queued or in flight (${workers} workers)`,
          `it exited ${code} after ${(exitMillis / 1000).toFixed(1)} s`,
          ...refusedNote(load),
          drainNote(measured)
        ],
        checks: [
          check("the stopped instance held payments", inHand > 0, `${inHand} in hand`),
          check("it exited 0", code === 0, `exit ${code}`)
        ]
      }
    }).pipe(Effect.scoped)
}

const leaderOf = (world: World) =>
  Effect.gen(function*() {
    for (const instance of world.alive()) {
      if (metricValue(yield* world.metrics(instance), "processor_health_poller") === 1) return Option.some(instance)
    }
    return Option.none<Instance>()
  })

const minGap = (times: ReadonlyArray<number>) => {
  let gap = Number.POSITIVE_INFINITY
  for (let i = 1; i < times.length; i++) gap = Math.min(gap, times[i] - times[i - 1])
  return gap
}

const maxGap = (times: ReadonlyArray<number>) => {
  let gap = 0
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1])
  return gap
}

export const healthLeader: Scenario = {
  id: "7",
  title: "health leader killed",
  run: (setup, profile) =>
    Effect.gen(function*() {
      const lease = Duration.seconds(3)
      // durable intake: a kill -9 loses nothing, so the figures isolate the health poller's takeover
      const env = {
        HEALTH_LEASE: "3 seconds",
        INTAKE_DURABILITY: "postgres",
        INTAKE_CLAIM_LEASE: profile.intakeClaimLease
      }
      const world = yield* startWorld(setup, { instances: [{ name: "a", env }, { name: "b", env }] })
      const startedAt = yield* world.now
      const load = yield* world.startLoad({ rate: profile.rate, seconds: profile.healthLoad })
      yield* Effect.sleep(seconds(profile.healthWarmup))
      const leader = yield* leaderOf(world)
      const killedAt = yield* Clock.currentTimeMillis
      if (Option.isSome(leader)) yield* world.stop(leader.value, "SIGKILL")
      const successor = yield* leaderOf(world).pipe(
        Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: Option.isSome }),
        Effect.timeoutOption("30 seconds"),
        Effect.map(Option.flatten)
      )
      const takeover = (yield* Clock.currentTimeMillis) - killedAt
      yield* load.done
      const window = yield* windowSince(startedAt)
      const measured = yield* world.drainAndMeasure(load.accepted, window, seconds(profile.drainTimeout))
      const calls = {
        default: yield* world.primary.healthCallTimes,
        fallback: yield* world.secondary.healthCallTimes
      }
      const rejected = (yield* world.primary.stats).healthRejected + (yield* world.secondary.stats).healthRejected
      const gaps = {
        min: Math.min(minGap(calls.default), minGap(calls.fallback)),
        max: Math.max(maxGap(calls.default), maxGap(calls.fallback))
      }
      const leaseMillis = Duration.toMillis(lease)
      // claims are HEALTH_POLL_INTERVAL (5.1 s) apart by the database's clock; the call reaches the processor
      // after a claim query and a connection, on a loaded machine, so arrivals jitter around that
      const jitter = 250
      return {
        ...measured,
        notes: [
          `leader ${
            Option.match(leader, { onNone: () => "none", onSome: (l) => l.name })
          } killed after ${profile.healthWarmup} s; ${
            Option.match(successor, { onNone: () => "nobody", onSome: (s) => s.name })
          } took over in ${takeover} ms`,
          `health calls: default ${calls.default.length}, fallback ${calls.fallback.length}; gap between calls ` +
          `${(gaps.min / 1000).toFixed(3)}–${(gaps.max / 1000).toFixed(3)} s; ${rejected} rejected (429)` +
          (gaps.min < 5000 ? ` (a gap under 5 s: arrival jitter on claims 5.1 s apart)` : ""),
          ...refusedNote(load),
          drainNote(measured)
        ],
        checks: [
          check("a leader was elected", Option.isSome(leader), "processor_health_poller = 1 on one instance"),
          check(
            `another took over within HEALTH_LEASE (${leaseMillis} ms, +1 s of polling slack)`,
            Option.isSome(successor) && takeover <= leaseMillis + 1000,
            `${takeover} ms`
          ),
          check(
            `at most one health call per processor per 5 s (the processor's limiter refused none; gaps may fall ` +
              `short of 5 s by the ${jitter} ms of arrival jitter a shared 2-core machine adds)`,
            rejected === 0 && gaps.min >= 5000 - jitter,
            `shortest gap ${gaps.min} ms, ${rejected} rejected`
          ),
          check("health was polled across the takeover", calls.default.length >= 2, `${calls.default.length} calls`)
        ]
      }
    }).pipe(Effect.scoped)
}

export const scenarios: ReadonlyArray<Scenario> = [
  defaultDown,
  bothDown,
  concurrencyLimit,
  slowProcessor,
  databaseDown,
  crashDurable,
  shutdownMemory,
  healthLeader
]

/** Runs one scenario, its processes logging to `<setup.dir>/<id>/`. */
export const runScenario = (scenario: Scenario, setup: FaultSetup, profile: Profile) =>
  Effect.map(
    Effect.suspend(() => {
      const dir = join(setup.dir, scenario.id)
      mkdirSync(dir, { recursive: true })
      return scenario.run({ ...setup, dir }, profile)
    }),
    (result): ScenarioResult => ({ ...result, id: scenario.id, scenario: scenario.title })
  )

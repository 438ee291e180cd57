import { Clock, Duration, Effect, Fiber, FiberSet, Option, Schedule, type Scope } from "effect"
import type { HttpServerError } from "effect/http"
import { ScenarioHttp } from "../load/ScenarioHttp.ts"
import { parseExposition, sumOf } from "../metrics/Exposition.ts"
import {
  ensureRunning,
  freePort,
  type ProcessError,
  type Started,
  startProcess,
  waitHttp
} from "../process/Processes.ts"
import * as Simulator from "../simulator/ProcessorSimulator.ts"
import { type DatabaseServer, scenarioDatabase } from "./FaultDatabase.ts"
import * as TcpProxy from "./TcpProxy.ts"

const node = globalThis.process.execPath

/** What every scenario runs on: the service entry point, where logs go, the database server and the base env. */
export interface FaultSetup {
  /** `dist/main.js` or `src/main.ts`. */
  readonly entry: string
  readonly dir: string
  readonly database: DatabaseServer
  /** The environment every process starts from (PATH and the like). */
  readonly env: Readonly<Record<string, string | undefined>>
}

export interface Instance {
  readonly name: string
  readonly port: number
  readonly url: string
  readonly process: Started
  alive: boolean
}

export interface Totals {
  readonly totalRequests: number
  readonly totalAmount: number
}

export interface Summary {
  readonly default: Totals
  readonly fallback: Totals
}

export interface Window {
  readonly from: Date
  readonly to: Date
}

/** A load run in the background: `accepted` grows as 2xx answers come back. */
export interface Load {
  readonly accepted: Set<string>
  readonly statuses: Map<number, number>
  readonly done: Effect.Effect<void>
}

/** The figures of the matrix, after the drain. */
export interface Measured {
  readonly accepted: number
  readonly processed: number
  readonly lost: number
  readonly twice: number
  readonly inconsistencies: number
  readonly backend: Summary | undefined
  readonly processors: Summary
  readonly drained: boolean
  readonly drainMillis: number
}

export const amount = 19.9

export const instanceEnv = (options: {
  readonly port: number
  readonly name: string
  readonly databaseUrl: string
  readonly primary: Simulator.SimulatorHandle
  readonly secondary: Simulator.SimulatorHandle
}) => ({
  PORT: String(options.port),
  HOST: "127.0.0.1",
  INSTANCE_ID: options.name,
  DATABASE_URL: options.databaseUrl,
  DB_POOL_SIZE: "4",
  PAYMENT_PROCESSOR_URL_DEFAULT: options.primary.url,
  PAYMENT_PROCESSOR_URL_FALLBACK: options.secondary.url,
  LOG_LEVEL: "Warn"
})

/** Payments queued or in flight at an instance, from its `/metrics` text. */
export const backlogIn = (metricsText: string) => {
  const samples = parseExposition(metricsText)
  return sumOf(samples, "payment_queue_length") + sumOf(samples, "payment_jobs_in_flight")
}

const totals = (summary: Simulator.ProcessorSummary): Totals => ({
  totalRequests: summary.totalRequests,
  totalAmount: summary.totalAmount
})

/** |Δrequests| per processor, plus one per processor whose amount differs while its count agrees. */
export const inconsistencies = (backend: Summary, processors: Summary) => {
  let count = 0
  for (const name of ["default", "fallback"] as const) {
    const delta = Math.abs(backend[name].totalRequests - processors[name].totalRequests)
    count += delta
    if (delta === 0 && Math.round(backend[name].totalAmount * 100) !== Math.round(processors[name].totalAmount * 100)) {
      count++
    }
  }
  return count
}

export const sameSummary = (a: Summary, b: Summary) => inconsistencies(a, b) === 0

/**
 * Two processor simulators, a database of the scenario's own (optionally behind a TCP proxy the scenario can
 * cut) and the service's instances, each ready. Everything stops when the scope closes.
 */
export const startWorld = (setup: FaultSetup, options: {
  readonly instances: ReadonlyArray<{ readonly name: string; readonly env?: Readonly<Record<string, string>> }>
  readonly simulator?: Partial<Simulator.SimulatorOptions>
  readonly proxyDatabase?: boolean
}): Effect.Effect<World, ProcessError | HttpServerError.ServeError, Scope.Scope | ScenarioHttp> =>
  Effect.gen(function*() {
    const http = yield* ScenarioHttp
    const primary = yield* Simulator.make({ ...options.simulator, fee: 0.05 })
    const secondary = yield* Simulator.make({ ...options.simulator, fee: 0.15 })
    const direct = yield* scenarioDatabase(setup.database)
    const proxied = options.proxyDatabase === true ? Option.some(yield* TcpProxy.toDatabase(direct)) : Option.none()
    const proxy = Option.map(proxied, ({ proxy }) => proxy)
    const databaseUrl = Option.match(proxied, { onNone: () => direct, onSome: ({ url }) => url })
    const instances: Array<Instance> = []
    for (const spec of options.instances) {
      const port = yield* freePort
      const started = yield* startProcess({
        name: spec.name,
        command: node,
        args: [setup.entry],
        env: {
          ...setup.env,
          ...instanceEnv({ port, name: spec.name, databaseUrl, primary, secondary }),
          ...spec.env
        },
        dir: setup.dir,
        grace: 40_000
      })
      instances.push({ name: spec.name, port, url: `http://127.0.0.1:${port}`, process: started, alive: true })
    }
    yield* Effect.forEach(
      instances,
      (instance) => waitHttp(`${instance.url}/ready`, { watch: [instance.process], timeout: 60_000 }),
      { concurrency: "unbounded", discard: true }
    )
    return makeWorld(http, primary, secondary, instances, proxy)
  })

export type World = ReturnType<typeof makeWorld>

const makeWorld = (
  http: ScenarioHttp["Service"],
  primary: Simulator.SimulatorHandle,
  secondary: Simulator.SimulatorHandle,
  instances: ReadonlyArray<Instance>,
  proxy: Option.Option<TcpProxy.TcpProxy>
) => {
  const alive = () => instances.filter((instance) => instance.alive)
  let next = 0

  const get = (url: string, timeoutMs = 5000) => http.request({ method: "GET", url, timeoutMs })

  /** The backend's summary from the first live instance: the JSON when it answers 200, else the status and body. */
  const backendSummary = (window?: Window) =>
    Effect.gen(function*() {
      const [instance] = alive()
      if (instance === undefined) return { _tag: "Unanswered", status: 0, body: "no live instance" } as const
      const query = window === undefined
        ? ""
        : `?from=${window.from.toISOString()}&to=${window.to.toISOString()}`
      const response = yield* get(`${instance.url}/payments-summary${query}`)
      if (response.status !== 200) return { _tag: "Unanswered", status: response.status, body: response.body } as const
      return { _tag: "Answered", status: 200, summary: JSON.parse(response.body) as Summary } as const
    })

  const processorSummary = (window?: Window) =>
    Effect.gen(function*() {
      const range = window === undefined ? undefined : { from: window.from, to: window.to }
      return {
        default: totals(yield* primary.summary(range)),
        fallback: totals(yield* secondary.summary(range))
      } satisfies Summary
    })

  const metrics = (instance: Instance) =>
    get(`${instance.url}/metrics`).pipe(Effect.map((response) => response.status === 200 ? response.body : ""))

  /** Payments queued or in flight at the live instances. */
  const busy = Effect.gen(function*() {
    let total = 0
    for (const instance of alive()) {
      total += backlogIn(yield* metrics(instance))
    }
    return total
  })

  const awaitIdle = (timeout: Duration.Input) =>
    busy.pipe(
      Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (n) => n === 0 }),
      Effect.timeoutOption(timeout),
      Effect.map(Option.isSome)
    )

  const held = Effect.gen(function*() {
    const onDefault = yield* primary.correlationIds
    const onFallback = yield* secondary.correlationIds
    return { onDefault, onFallback }
  })

  /** Fixed-rate POSTs, `burst` at a time, round robin over the live instances, for `seconds`. */
  const startLoad = (options: { readonly rate: number; readonly seconds: number; readonly burst?: number }) =>
    Effect.gen(function*() {
      const accepted = new Set<string>()
      const statuses = new Map<number, number>()
      const fibers = yield* FiberSet.make()
      const burst = options.burst ?? 1
      const interval = (1000 * burst) / options.rate
      const ticks = Math.max(1, Math.round((options.rate * options.seconds) / burst))
      const one = Effect.suspend(() => {
        const targets = alive()
        const target = targets[next++ % Math.max(1, targets.length)]
        const correlationId = crypto.randomUUID()
        if (target === undefined) return Effect.sync(() => statuses.set(0, (statuses.get(0) ?? 0) + 1))
        return http.request({
          method: "POST",
          url: `${target.url}/payments`,
          body: JSON.stringify({ correlationId, amount }),
          timeoutMs: 2000
        }).pipe(Effect.map((response) => {
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
          if (response.status >= 200 && response.status < 300) accepted.add(correlationId)
        }))
      })
      const startedAt = yield* Clock.currentTimeMillis
      const ticking = Effect.gen(function*() {
        for (let tick = 0; tick < ticks; tick++) {
          const wait = startedAt + tick * interval - (yield* Clock.currentTimeMillis)
          if (wait > 0) yield* Effect.sleep(wait)
          for (let i = 0; i < burst; i++) yield* FiberSet.run(fibers, one)
        }
      })
      const ticker = yield* Effect.forkScoped(ticking)
      const done = Effect.gen(function*() {
        yield* Fiber.await(ticker)
        yield* FiberSet.awaitEmpty(fibers)
      })
      return { accepted, statuses, done } satisfies Load
    })

  /**
   * Waits (up to `timeout`) until the instances are idle, the processors hold every accepted payment and the
   * backend's summary equals theirs; then measures.
   */
  const drainAndMeasure = (accepted: ReadonlySet<string>, window: Window, timeout: Duration.Input) =>
    Effect.gen(function*() {
      const startedAt = yield* Clock.currentTimeMillis
      const settled = Effect.gen(function*() {
        if ((yield* busy) > 0) return false
        const { onDefault, onFallback } = yield* held
        for (const id of accepted) if (!onDefault.has(id) && !onFallback.has(id)) return false
        const backend = yield* backendSummary(window)
        return backend._tag === "Answered" && sameSummary(backend.summary, yield* processorSummary(window))
      })
      const drained = yield* settled.pipe(
        Effect.repeat({ schedule: Schedule.spaced("250 millis"), until: (done) => done }),
        Effect.timeoutOption(timeout),
        Effect.map(Option.isSome)
      )
      const drainMillis = (yield* Clock.currentTimeMillis) - startedAt
      // anything still on its way would show up now
      yield* Effect.sleep("1 second")
      return yield* measure(accepted, window, drained, drainMillis)
    })

  const measure = (accepted: ReadonlySet<string>, window: Window, drained: boolean, drainMillis: number) =>
    Effect.gen(function*() {
      const { onDefault, onFallback } = yield* held
      let lost = 0
      for (const id of accepted) if (!onDefault.has(id) && !onFallback.has(id)) lost++
      let twice = 0
      for (const id of onDefault) if (onFallback.has(id)) twice++
      const processors = yield* processorSummary(window)
      const backend = yield* backendSummary(window).pipe(
        Effect.repeat({ schedule: Schedule.spaced("250 millis"), until: (answer) => answer._tag === "Answered" }),
        Effect.timeoutOption("5 seconds"),
        Effect.map(Option.flatMap((answer) => answer._tag === "Answered" ? Option.some(answer.summary) : Option.none()))
      )
      return {
        accepted: accepted.size,
        processed: onDefault.size + onFallback.size - twice,
        lost,
        twice,
        inconsistencies: Option.match(backend, {
          onNone: () => Number.NaN,
          onSome: (backend) => inconsistencies(backend, processors)
        }),
        backend: Option.getOrUndefined(backend),
        processors,
        drained,
        drainMillis
      } satisfies Measured
    })

  const stop = (instance: Instance, signal: "SIGKILL" | "SIGTERM") =>
    Effect.gen(function*() {
      instance.alive = false
      const child = instance.process.child
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      const exited = Effect.callback<number | null>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.succeed(child.exitCode))
        child.once("exit", (code) => resume(Effect.succeed(code)))
      })
      child.kill(signal)
      return yield* exited
    })

  /** Epoch milliseconds, as the processors stamp and compare requestedAt. */
  const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

  return {
    primary,
    secondary,
    instances,
    proxy,
    alive,
    now,
    backendSummary,
    processorSummary,
    metrics,
    busy,
    awaitIdle,
    held,
    startLoad,
    drainAndMeasure,
    stop,
    running: (instance: Instance) => ensureRunning(instance.process)
  }
}

export const seconds = (s: number) => Duration.millis(Math.round(s * 1000))

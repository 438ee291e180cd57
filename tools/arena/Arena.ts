import { Clock, Duration, Effect, Fiber, Option, Schedule } from "effect"
import { existsSync } from "node:fs"
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { ScenarioHttp } from "../load/ScenarioHttp.ts"
import { type MetricSample, parseExposition, sumOf } from "../metrics/Exposition.ts"
import { pgliteServerCommand } from "../process/PgliteServerCommand.ts"
import {
  freePort,
  officialReadiness,
  ProcessError,
  type Started,
  startProcess,
  waitHttp,
  waitTcp
} from "../process/Processes.ts"
import { watchGeneratorGc } from "./GeneratorGc.ts"
import { otherNodeThanImage, readImage } from "./Image.ts"
import { detectCgroups, type LimitGroup, makeLimitGroup, readComposeLimits, totalOf } from "./Limits.ts"
import type { ArenaReport, InstanceSample, LatencySummary, Profile } from "./Model.ts"
import { writeNginxConfig } from "./Nginx.ts"
import { makeSampler, type Sampler } from "./ProcessSampler.ts"
import { vusAt } from "./Profiles.ts"
import { writeReport } from "./Report.ts"
import { runScenario } from "./Scenario.ts"
import { renderScorecard } from "./Scorecard.ts"
import { officialJson, score } from "./Scoring.ts"
import { makeThrottleSampler } from "./Throttling.ts"

export type Backend =
  | { readonly _tag: "Service" }
  | { readonly _tag: "Null" }
  | { readonly _tag: "Script"; readonly file: string }

export interface ArenaOptions {
  readonly root: string
  readonly profile: Profile
  readonly instances: number
  readonly backend: Backend
  readonly out: string
  /** Where the backend answers: nginx with two or more instances, else the only instance. */
  readonly port: number
  readonly limits: boolean
  /** The compose file whose `deploy.resources.limits` --limits applies. */
  readonly compose: string
  /** Node flags for the service's instances; by default the Dockerfile CMD's. */
  readonly nodeFlags: Option.Option<ReadonlyArray<string>>
  readonly databaseUrl: Option.Option<string>
  /** The environment every started process inherits. */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly floor: Option.Option<LatencySummary>
  /**
   * How often each instance's /metrics is read for the queue and recorded series, seconds. A scrape costs the
   * instance a few milliseconds of its event loop, which the official test does not pay: `pnpm arena` reads it as
   * often as Prometheus does in infra/prometheus.yml (5 s) unless --scrape-interval says otherwise.
   */
  readonly scrapeInterval: number
  readonly log: (line: string) => Effect.Effect<void>
}

const node = globalThis.process.execPath

const backendName = (backend: Backend) =>
  backend._tag === "Service" ? "service" : backend._tag === "Null" ? "null" : backend.file

/** Per-service cgroups read from docker-compose.yaml, or the reason the run goes unlimited. */
const limitGroups = Effect.fn("Arena.limitGroups")(function*(options: ArenaOptions, runId: string) {
  const none = (reason: string) => ({ groups: new Map<string, LimitGroup>(), description: reason })
  if (!options.limits) return none("off (pass --limits to apply docker-compose.yaml's budget)")
  const compose = options.compose
  if (!existsSync(compose)) return none(`requested, but there is no ${compose}: running unlimited`)
  const support = yield* detectCgroups
  if ("unavailable" in support) {
    return none(`requested, but cgroups are unavailable (${support.unavailable}): unlimited`)
  }
  const limits = yield* readComposeLimits(compose)
  const groups = new Map<string, LimitGroup>()
  for (const limit of limits) groups.set(limit.service, yield* makeLimitGroup(limit, runId))
  const total = totalOf(limits)
  const described = limits.map((l) => `${l.service} ${l.cpus} CPU / ${Math.round(l.memoryBytes / 2 ** 20)} MiB`)
  return {
    groups,
    description: `cgroup ${support.version}: ${described.join(", ")} (total ${total.cpus} CPU / ${
      Math.round(total.memoryBytes / 2 ** 20)
    } MiB)`
  }
})

const gcPauses = (metrics: ReadonlyArray<MetricSample>, kind: "minor" | "major") => ({
  count: sumOf(metrics, "nodejs_gc_duration_seconds_count", { kind }),
  seconds: sumOf(metrics, "nodejs_gc_duration_seconds_sum", { kind })
})

/**
 * Reads queue depth, in-flight jobs, recorded payments and garbage collections from each instance's /metrics at the
 * start, every `interval` seconds (never in between when it is 0), and once more at `finish`, which also hands back
 * that last reading's samples per instance (none for an instance that did not answer).
 */
const scrapeInstances = (
  instances: ReadonlyArray<{ readonly name: string; readonly url: string }>,
  startedAt: number,
  interval: number
) =>
  Effect.gen(function*() {
    const samples: Array<InstanceSample> = []
    const scrape = Effect.gen(function*() {
      const t = ((yield* Clock.currentTimeMillis) - startedAt) / 1000
      return yield* Effect.forEach(instances, (instance) =>
        Effect.tryPromise(() =>
          fetch(`${instance.url}/metrics`, { signal: AbortSignal.timeout(900) }).then((r) =>
            r.text()
          )
        ).pipe(
          Effect.map((text) => {
            const metrics = parseExposition(text)
            samples.push({
              t,
              instance: instance.name,
              queueLength: sumOf(metrics, "payment_queue_length"),
              inFlight: sumOf(metrics, "payment_jobs_in_flight"),
              recordedDefault: sumOf(metrics, "payments_recorded_total", { processor: "default" }),
              recordedFallback: sumOf(metrics, "payments_recorded_total", { processor: "fallback" }),
              gc: { minor: gcPauses(metrics, "minor"), major: gcPauses(metrics, "major") }
            })
            return metrics
          }),
          Effect.orElseSucceed((): ReadonlyArray<MetricSample> => [])
        ), { concurrency: "unbounded" })
    })
    const fiber = yield* Effect.forkScoped(
      interval === 0 ? scrape : Effect.repeat(scrape, Schedule.spaced(Duration.seconds(interval)))
    )
    return {
      finish: Fiber.interrupt(fiber).pipe(
        Effect.andThen(scrape),
        Effect.map((last): ScrapedInstances => ({ samples, last }))
      )
    }
  })

interface ScrapedInstances {
  readonly samples: ReadonlyArray<InstanceSample>
  /** The last reading's samples, one list per instance. */
  readonly last: ReadonlyArray<ReadonlyArray<MetricSample>>
}

/**
 * One arena run: processor simulators, the backend's instances (behind nginx when there are two or more), a
 * database they share, the official readiness probe, the scenario, and the report. Everything it starts is
 * stopped when it returns, fails or is interrupted.
 */
export const runArena = Effect.fn("Arena.run")(function*(options: ArenaOptions) {
  const { profile, root, out } = options
  yield* Effect.tryPromise({
    try: () => mkdir(out, { recursive: true }),
    catch: () => new ProcessError({ process: "arena", message: `cannot create ${out}` })
  })
  const runId = String(yield* Clock.currentTimeMillis)
  const limits = yield* limitGroups(options, runId)
  yield* options.log(`limits: ${limits.description}`)
  const samplerStartedAt = yield* Clock.currentTimeMillis
  const sampler: Sampler = yield* makeSampler({ interval: "1 second", startedAt: samplerStartedAt })
  const started: Array<Started> = []
  const track = Effect.fn(function*(child: Started, service?: string) {
    started.push(child)
    const group = service === undefined ? undefined : limits.groups.get(service)
    if (group !== undefined) yield* group.add(child.pid)
    yield* sampler.track(child.name, child.pid)
    return child
  })

  const groupOf = (service: string) => limits.groups.get(service)?.directories ?? []

  const processorPorts = { default: yield* freePort, fallback: yield* freePort }
  const processors = {
    default: `http://127.0.0.1:${processorPorts.default}`,
    fallback: `http://127.0.0.1:${processorPorts.fallback}`
  }
  for (const name of ["default", "fallback"] as const) {
    const simulator = yield* track(
      yield* startProcess({
        name: `processor-${name}`,
        command: node,
        args: [
          join(root, "tools/simulator/main.ts"),
          "--port",
          String(processorPorts[name]),
          "--fee",
          String(profile.fees[name])
        ],
        env: options.env,
        dir: out
      })
    )
    yield* waitHttp(`${processors[name]}/`, { watch: [simulator], timeout: 20_000 })
  }

  let database = "none"
  let databaseUrl: string | undefined
  if (options.backend._tag !== "Null") {
    if (Option.isSome(options.databaseUrl)) {
      databaseUrl = options.databaseUrl.value
      database = "DATABASE_URL"
    } else {
      const port = yield* freePort
      const command = pgliteServerCommand(port, 8 * options.instances + 4)
      const server = yield* track(
        yield* startProcess({
          name: "database",
          command: node,
          args: [join(root, command.script), ...command.args],
          env: options.env,
          dir: out,
          cgroups: groupOf("postgres")
        }),
        "postgres"
      )
      yield* waitTcp(port, { alive: () => server.child.exitCode === null, timeout: "30 seconds" })
      databaseUrl = command.url
      database = `embedded PGlite (${command.script}), shared by every instance`
    }
  }

  const lonely = options.instances === 1
  const instancePorts: Array<number> = []
  for (let i = 1; i <= options.instances; i++) instancePorts.push(lonely ? options.port : yield* freePort)
  const instances: Array<{ readonly name: string; readonly url: string }> = []
  // the service runs with the container's Node flags (unless told otherwise) and environment; other backends as
  // they are
  const image = options.backend._tag === "Service"
    ? yield* readImage(join(root, "Dockerfile"))
    : { nodeFlags: [], env: {}, nodeVersion: undefined }
  const flags = Option.getOrElse(options.nodeFlags, () => image.nodeFlags)
  if (options.backend._tag === "Service") {
    yield* options.log(
      `node flags${Option.isSome(options.nodeFlags) ? "" : " (the Dockerfile's CMD)"}: ${flags.join(" ")}; ` +
        `the Dockerfile's ENV: ${Object.entries(image.env).map(([key, value]) => `${key}=${value}`).join(" ")}`
    )
    const otherNode = otherNodeThanImage(image.nodeVersion, globalThis.process.versions.node)
    if (otherNode !== undefined) yield* options.log(`warning: ${otherNode}`)
  }
  for (const [index, port] of instancePorts.entries()) {
    const name = `app${index + 1}`
    const script = options.backend._tag === "Service"
      ? join(root, "dist/main.js")
      : options.backend._tag === "Null"
      ? join(root, "tools/arena/NullBackend.ts")
      : options.backend.file
    const instance = yield* track(
      yield* startProcess({
        name,
        command: node,
        args: [...flags, script],
        env: {
          ...image.env,
          ...options.env,
          PORT: String(port),
          HOST: "127.0.0.1",
          INSTANCE_ID: name,
          PAYMENT_PROCESSOR_URL_DEFAULT: processors.default,
          PAYMENT_PROCESSOR_URL_FALLBACK: processors.fallback,
          LOG_LEVEL: options.env.LOG_LEVEL ?? "Warn",
          ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl })
        },
        dir: out,
        cgroups: groupOf(name)
      }),
      name
    )
    const url = `http://127.0.0.1:${port}`
    // one at a time: PGlite serves every connection on one session, so two instances must not migrate at once
    yield* waitHttp(`${url}/payments-summary`, { watch: [instance], timeout: 60_000 })
    instances.push({ name, url })
  }

  let loadBalancer: "nginx" | "none" = "none"
  if (!lonely) {
    if (!existsSync("/usr/sbin/nginx") && !existsSync("/usr/bin/nginx")) {
      return yield* new ProcessError({
        process: "nginx",
        message: "nginx is not installed: apt-get install -y nginx (or run with --instances 1, without a load balancer)"
      })
    }
    const config = yield* writeNginxConfig({
      template: join(root, "infra/nginx.conf"),
      listenPort: options.port,
      upstreamPorts: instancePorts,
      dir: out
    })
    yield* track(
      yield* startProcess({
        name: "nginx",
        command: existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "/usr/bin/nginx",
        args: ["-p", out, "-c", config, "-g", "daemon off;"],
        env: options.env,
        dir: out,
        cgroups: groupOf("nginx")
      }),
      "nginx"
    )
    loadBalancer = "nginx"
  }

  const backend = `http://127.0.0.1:${options.port}`
  yield* waitHttp(`${backend}/payments-summary`, { watch: started, timeout: 30_000 })
  const tries = yield* officialReadiness(backend)
  yield* options.log(`ready after ${tries} ${tries === 1 ? "try" : "tries"} of GET /payments-summary`)

  const scenarioStartedAt = yield* Clock.currentTimeMillis
  const throttleSampler = yield* makeThrottleSampler(limits.groups, {
    interval: "1 second",
    startedAt: scenarioStartedAt
  })
  const scraped = options.backend._tag === "Service"
    ? yield* scrapeInstances(instances, scenarioStartedAt, options.scrapeInterval)
    : { finish: Effect.succeed<ScrapedInstances>({ samples: [], last: [] }) }
  yield* options.log(
    `running the ${profile.name} scenario: ${profile.duration} s, up to ${profile.maxVus} VUs, ${options.instances} ` +
      `instance(s) of ${backendName(options.backend)}` +
      (options.backend._tag !== "Service"
        ? ""
        : options.scrapeInterval === 0
        ? ", /metrics read at the start and the end"
        : `, /metrics read every ${options.scrapeInterval} s`)
  )
  const generatorGc = yield* watchGeneratorGc
  const result = yield* runScenario(profile, { backend, processors, initialToken: "123" }).pipe(
    Effect.provide(ScenarioHttp.layer)
  )
  const generatorPauses = yield* generatorGc.finish
  yield* sampler.sampleNow
  const throttling = yield* throttleSampler.finish
  const scrapes = yield* scraped.finish
  const healthCalls = options.backend._tag === "Service"
    ? healthCallsIn(scrapes.last, (result.endedAt - scenarioStartedAt) / 60_000)
    : undefined
  if (healthCalls !== undefined) {
    yield* options.log(
      `health calls: default ${healthCalls.default}, fallback ${healthCalls.fallback} in ${
        healthCalls.minutes.toFixed(1)
      } min (at most one per processor per 5 s: ${Math.floor(healthCalls.minutes * 12) + 1})`
    )
  }

  const cgroups = yield* Effect.forEach(limits.groups, ([service, group]) =>
    Effect.map(group.usage, (usage) => {
      const cpu = throttling.totals.get(service)
      return {
        service,
        limitMiB: group.memoryBytes / 2 ** 20,
        peakMiB: usage.peakBytes === undefined ? undefined : usage.peakBytes / 2 ** 20,
        oomKills: usage.oomKills,
        ...(cpu === undefined ? {} : { cpu })
      }
    }))

  const input = {
    profile,
    totals: result.totals,
    p99: result.recorder.officialP99(),
    inconsistencies: result.inconsistencies,
    successfulPayments: result.recorder.successfulPayments,
    failedPayments: result.recorder.failedPayments,
    participant: "rinha-payments",
    timestamp: new Date(result.endedAt)
  }
  const scorecard = score(input)
  const stages = profile.stages.filter((s) => s.at < profile.duration)
  const offset = (scenarioStartedAt - samplerStartedAt) / 1000
  const report: ArenaReport = {
    meta: {
      profile: profile.name,
      startedAt: new Date(result.startedAt).toISOString(),
      durationSeconds: profile.duration,
      instances: options.instances,
      backend: backendName(options.backend),
      loadBalancer,
      database,
      limits: limits.description,
      ...(cgroups.length === 0 ? {} : { cgroups }),
      ...(healthCalls === undefined ? {} : { healthCalls }),
      generatorGc: generatorPauses
    },
    scorecard,
    official: officialJson(input, scorecard),
    latency: {
      all: result.recorder.summary("all"),
      payments: result.recorder.summary("payments"),
      stages: result.recorder.byStage(stages, input.p99)
    },
    ...(Option.isSome(options.floor) ? { nullFloor: options.floor.value } : {}),
    series: {
      seconds: result.recorder.seconds((t) => vusAt(profile, t)),
      instances: scrapes.samples,
      processes: (yield* sampler.samples).map((s) => ({ ...s, t: s.t - offset })).filter((s) => s.t >= 0),
      ...(limits.groups.size === 0 ? {} : { throttling: throttling.samples }),
      stages,
      checks: result.checks
    }
  }
  const files = yield* writeReport(report, out)
  yield* options.log(renderScorecard(report))
  yield* options.log(`report: ${files.html}`)
  return report
})

/** Sums processor_health_calls_total over the instances' last readings of /metrics. */
const healthCallsIn = (readings: ReadonlyArray<ReadonlyArray<MetricSample>>, minutes: number) => {
  const total = (processor: string) =>
    readings.reduce((sum, samples) => sum + sumOf(samples, "processor_health_calls_total", { processor }), 0)
  return { default: total("default"), fallback: total("fallback"), minutes }
}

/** Runs the arena in its own scope: closing it stops every process the run started. */
export const arena = (options: ArenaOptions) => Effect.scoped(runArena(options))

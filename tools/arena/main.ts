/**
 * `pnpm arena [--profile final|preview|smoke] [--instances 2] [--vus N] [--duration S]
 *   [--timeline FILE | --timeline random:SEED] [--limits] [--compose FILE] [--node-flags "..."] [--out DIR]
 *   [--port 9999] [--null-backend | --backend FILE] [--floor REPORT.json] [--scrape-interval 5] [--no-build]`
 *
 * --timeline FILE reads the processors' stages from a JSON list; random:SEED (a whole number) generates a final-like
 * timeline over the duration instead, the same for the same seed (tools/arena/RandomTimeline.ts).
 * --limits applies docker-compose.yaml's `deploy.resources.limits` as cgroups (--compose FILE: another file's).
 * The instances run with the Dockerfile CMD's Node flags unless --node-flags replaces them.
 * --scrape-interval S: how often each instance's /metrics is read for the queue charts (default 5 s, Prometheus's
 * interval; each scrape costs an instance a few milliseconds of event loop that the official test does not take);
 * 0 reads it only at the scenario's start and end, for the GC and recorded totals.
 *
 * `pnpm arena` runs this file under `node --max-semi-space-size=2`: with V8's default young generation the load
 * generator's own scavenges stopped it for 40-70 ms every few seconds, and the answers that came in meanwhile were
 * timed late by as much; with 2 MB they stop it for at most ~9 ms.
 *
 * --no-build runs dist/ as it is, and refuses one that `pnpm build` did not make from the sources in the tree now.
 *
 * Runs the official test's scenario locally against the built service and writes arena-report.html/.json.
 * Exits 0 when the run is green (no inconsistency, no slush fund, every payment accepted), 1 otherwise; a lag
 * (payments acknowledged that never reached a processor) is lost money and is reported, not failed.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option, Schema } from "effect"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { staleBundle } from "../../scripts/build-inputs.ts"
import { attachValues } from "../process/Arguments.ts"
import { arena, type Backend } from "./Arena.ts"
import type { ArenaReport, LatencySummary } from "./Model.ts"
import { customize, isProfileName, profiles, readTimeline } from "./Profiles.ts"
import { isRandomTimeline, parseRandomTimeline, randomStages } from "./RandomTimeline.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")

const { values } = parseArgs({
  args: attachValues(process.argv.slice(2).filter((arg, index) => index > 0 || arg !== "--"), ["node-flags"]),
  options: {
    profile: { type: "string", default: "final" },
    instances: { type: "string", default: "2" },
    vus: { type: "string" },
    duration: { type: "string" },
    timeline: { type: "string" },
    limits: { type: "boolean", default: false },
    compose: { type: "string" },
    "node-flags": { type: "string" },
    out: { type: "string" },
    port: { type: "string", default: "9999" },
    "null-backend": { type: "boolean", default: false },
    backend: { type: "string" },
    floor: { type: "string" },
    "scrape-interval": { type: "string", default: "5" },
    "no-build": { type: "boolean", default: false }
  }
})

const PositiveInt = Schema.FiniteFromString.check(Schema.isInt(), Schema.isGreaterThan(0))
const NonNegativeInt = Schema.FiniteFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))
class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

const usage = (message: string) =>
  new UsageError({ message: `${message} (usage: the comment atop tools/arena/main.ts)` })

const program = Effect.gen(function*() {
  if (!isProfileName(values.profile)) return yield* usage(`unknown profile ${values.profile}`)
  if (!process.execArgv.some((flag) => flag.startsWith("--max-semi-space-size"))) {
    yield* Console.log(
      "warning: the load generator runs with V8's default young generation, whose scavenges can stop it for tens " +
        "of ms and every answer it times in that moment is late by as much: `pnpm arena` runs it with " +
        "--max-semi-space-size=2"
    )
  }
  const decode = (name: string, value: string | undefined) =>
    value === undefined
      ? Effect.undefined
      : Schema.decodeUnknownEffect(PositiveInt)(value).pipe(
        Effect.mapError(() => usage(`--${name} ${value}: expected a positive integer`))
      )
  const instances = (yield* decode("instances", values.instances)) ?? 2
  const port = (yield* decode("port", values.port)) ?? 9999
  const scrapeInterval = yield* Schema.decodeUnknownEffect(NonNegativeInt)(values["scrape-interval"]).pipe(
    Effect.mapError(() => usage(`--scrape-interval ${values["scrape-interval"]}: expected a whole number of seconds`))
  )
  const vus = yield* decode("vus", values.vus)
  const duration = yield* decode("duration", values.duration)
  const timeline = values.timeline
  const seed = timeline === undefined || !isRandomTimeline(timeline)
    ? undefined
    : yield* Effect.fromResult(parseRandomTimeline(timeline)).pipe(
      Effect.mapError((message) => usage(`--timeline ${timeline}: ${message}`))
    )
  const stages = timeline === undefined || seed !== undefined ? undefined : yield* readTimeline(timeline)
  const customized = customize(profiles[values.profile], {
    ...(vus === undefined ? {} : { vus }),
    ...(duration === undefined ? {} : { duration }),
    ...(stages === undefined ? {} : { stages })
  })
  const profile = seed === undefined
    ? customized
    : { ...customized, name: `${customized.name} random:${seed}`, stages: randomStages(seed, customized.duration) }
  const backend: Backend = values["null-backend"]
    ? { _tag: "Null" }
    : values.backend !== undefined
    ? { _tag: "Script", file: resolve(values.backend) }
    : { _tag: "Service" }
  if (backend._tag === "Service" && !values["no-build"]) {
    const build = spawnSync(process.execPath, [join(root, "scripts/build.ts")], { cwd: root, stdio: "inherit" })
    if (build.status !== 0) return yield* usage("the build failed")
  }
  const stale = backend._tag === "Service" && values["no-build"] ? staleBundle(root) : undefined
  if (stale !== undefined) return yield* usage(`--no-build: ${stale}; run \`pnpm build\` first`)
  const floor = values.floor === undefined
    ? Option.none<LatencySummary>()
    : Option.some((JSON.parse(readFileSync(values.floor, "utf8")) as ArenaReport).latency.all)
  const stamp = new Date().toISOString().replace(/[:.]/g, "-")
  const out = resolve(
    values.out ?? join(root, "arena-out", `${customized.name}${backend._tag === "Null" ? "-null" : ""}-${stamp}`)
  )
  const report = yield* arena({
    root,
    profile,
    instances,
    backend,
    out,
    port,
    limits: values.limits || values.compose !== undefined,
    compose: resolve(values.compose ?? join(root, "docker-compose.yaml")),
    nodeFlags: Option.fromNullishOr(values["node-flags"]).pipe(
      Option.map((flags) => flags.split(/\s+/).filter((flag) => flag.length > 0))
    ),
    databaseUrl: Option.fromNullishOr(process.env.DATABASE_URL),
    env: process.env,
    floor,
    scrapeInterval,
    log: (line: string) => Console.log(line)
  })
  const card = report.scorecard
  if (backend._tag === "Null") return
  if (card.lag > 0) yield* Console.log(`warning: ${card.lag} acknowledged payments never reached a processor`)
  if (card.inconsistencies > 0 || card.slushFund || card.failedPayments > 0) {
    yield* Console.error("not green: inconsistencies, a slush fund or refused payments (see the report)")
    process.exitCode = 1
  }
})

NodeRuntime.runMain(program)

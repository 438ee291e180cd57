/**
 * CPU per payment of the service, the null backend and the plain-Node reference forwarder, one after another, against
 * two processor simulators at a fixed open-model rate.
 *   pnpm bench:cpu [--rate 300] [--duration 30] [--warmup 5] [--only service,baseline,null,reference,intake,floor]
 *                  [--node-flags="..."] [--rounds 1] [--together] [--env NAME=VALUE ...]
 *                  [--baseline DIR] [--baseline-env NAME=VALUE ...] [--baseline-node-flags="..."]
 *                  [--callgrind [--warmup-rate 100]]
 * The service is dist/main.js (run `pnpm build` first: a dist/ built from other sources is refused) with the
 * Dockerfile's Node flags (unless --node-flags replaces them) and the ENV of its runtime stage; with DATABASE_URL set
 * it uses that PostgreSQL, else PGlite.
 * The intake target is the service taking payments and forwarding none: its processors accept connections and never
 * answer, and one worker waits on them. Its CPU per POST, beside the null backend's, is what the HTTP intake costs
 * (request, validation, queue, 202) against plain Node answering 202.
 * The floor target is the service's HTTP stack alone (`scripts/bench/effect-floor.ts`: an Effect HttpRouter on
 * NodeHttpServer answering 202 at once), run with the service's Node flags and image ENV: floor / null is what the
 * stack itself costs per POST over plain Node, intake / floor what the service's handlers add to it.
 * The baseline target is the service again, to weigh a change against: the bundle in --baseline DIR (a `dist/` built
 * from another commit, in a checkout with its own node_modules; default this dist/) with --baseline-env added to its
 * environment, as --env adds to the service's and the intake's, and --baseline-node-flags in place of the service's
 * Node flags (default the same). With --together the two run side by side and each
 * round prints service / baseline; the same build and settings on both sides measure the method's own noise.
 * With --callgrind each target runs under `valgrind --tool=callgrind` and the figure is instructions per payment,
 * counted over the measured window only (instrumentation switched on after the warm-up has drained, the counts dumped
 * once the window has): a count that does not depend on what else the machine is doing. Uninstrumented, valgrind runs
 * a process about 5 times slower, instrumented some 30 to 50 times, so the warm-up runs at --warmup-rate (100/s) and
 * the window at 20/s by default, 180 s and 30 s.
 * With --rounds N the targets run N times, in the listed order and then reversed, alternately: the machine's drift
 * over minutes moves one target's figure against another's, and a ratio per round, then their median, cancels most
 * of it.
 * With --together the targets of a round run side by side instead, each against simulators of its own, their loads
 * started once all of them answer: every figure then comes from the same minutes of the machine, which slows them
 * all alike, and the ratio drifts far less than one taken a few minutes apart.
 */
// The targets run one after another (or a round's side by side) and the polls and retries wait in turn: awaiting in
// loops is the point.
/* oxlint-disable no-await-in-loop */
import { Effect, Option } from "effect"
import { buildSync } from "esbuild"
import * as hdr from "hdr-histogram-js"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { createServer, type Socket } from "node:net"
import { loadavg } from "node:os"
import { basename, dirname, join, resolve } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { pathToFileURL } from "node:url"
import { parseArgs, promisify } from "node:util"
import { Pool, request } from "undici"
import { otherNodeThanImage, readImage } from "../../tools/arena/Image.ts"
import { median } from "../../tools/arena/LatencyRecorder.ts"
import { clockTicksPerSecond, type ProcessReading, readProcess } from "../../tools/arena/ProcessSampler.ts"
import { attachValues, envAssignments } from "../../tools/process/Arguments.ts"
import { freePort } from "../../tools/process/Processes.ts"
import { staleBundle } from "../build-inputs.ts"

const { values } = parseArgs({
  args: attachValues(process.argv.slice(2).filter((arg) => arg !== "--"), ["node-flags", "baseline-node-flags"]),
  options: {
    rate: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    only: { type: "string", default: "service,null,reference" },
    "node-flags": { type: "string" },
    callgrind: { type: "boolean", default: false },
    "warmup-rate": { type: "string", default: "100" },
    rounds: { type: "string", default: "1" },
    together: { type: "boolean", default: false },
    env: { type: "string", multiple: true, default: [] },
    baseline: { type: "string", default: "dist" },
    "baseline-env": { type: "string", multiple: true, default: [] },
    "baseline-node-flags": { type: "string" }
  }
})
const callgrind = values.callgrind
const rate = Number(values.rate ?? (callgrind ? 20 : 300))
const duration = Number(values.duration ?? 30)
const warmup = Number(values.warmup ?? (callgrind ? 180 : 5))
const warmupRate = callgrind ? Number(values["warmup-rate"]) : rate
const rounds = Number(values.rounds)
const together = values.together
if (together && callgrind) throw new Error("--together measures CPU time; --callgrind counts each target alone")
const targetNames = ["service", "baseline", "null", "reference", "intake", "floor"] as const
type TargetName = (typeof targetNames)[number]
const only = values.only.split(",").map((name) => name.trim())
for (const name of only) {
  if (!targetNames.some((known) => known === name)) throw new Error(`unknown target ${name} in --only`)
}
if (!(rate > 0 && warmupRate > 0 && duration > 0 && warmup >= 0 && Number.isInteger(rounds) && rounds >= 1)) {
  throw new Error("--rate, --warmup-rate and --duration must be > 0, --warmup >= 0, --rounds a whole number >= 1")
}

const serviceEnv = envAssignments(values.env)
const baselineEnv = envAssignments(values["baseline-env"])
const baselineMain = join(values.baseline, "main.js")
const baselineDir = resolve(values.baseline)
const baselineIsDist = baselineDir === resolve("dist")
if (only.includes("baseline") && !existsSync(baselineMain)) {
  throw new Error(`the baseline target runs ${baselineMain}, which is not there: build it first`)
}

const stale = only.includes("service") || (only.includes("baseline") && baselineIsDist)
  ? staleBundle(process.cwd())
  : undefined
if (stale !== undefined) throw new Error(`the service target runs dist/ as built: ${stale}; run \`pnpm build\` first`)
// a baseline in another checkout of this project (DIR is its dist/) is held to the same rule, by that checkout's own
// reading of its inputs: the one its build wrote the digest with
const baselineRoot = dirname(baselineDir)
const baselineInputs = join(baselineRoot, "scripts", "build-inputs.ts")
const staleBaseline = only.includes("baseline") && !baselineIsDist && basename(baselineDir) === "dist" &&
    existsSync(baselineInputs)
  ? ((await import(pathToFileURL(baselineInputs).href)) as { staleBundle: typeof staleBundle }).staleBundle(
    baselineRoot
  )
  : undefined
if (staleBaseline !== undefined) {
  throw new Error(`the baseline target runs ${baselineMain}: ${staleBaseline}; build it in ${baselineRoot} first`)
}

const image = await Effect.runPromise(readImage("Dockerfile"))
const flagList = (flags: string | undefined) => flags?.split(/\s+/).filter((flag) => flag !== "")
const nodeFlags = flagList(values["node-flags"]) ?? image.nodeFlags
const baselineNodeFlags = flagList(values["baseline-node-flags"]) ?? nodeFlags

const token = "123"
const targetHost = "127.0.0.1"
const databaseUrl = process.env.DATABASE_URL

// == child processes

const children = new Set<ChildProcess>()

const start = (
  name: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  /** Run under callgrind, its counts written to this file (`%p` is the pid). */
  callgrindOut?: string
) => {
  const child = callgrindOut === undefined
    ? spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] })
    : spawn("valgrind", [
      "--tool=callgrind",
      `--callgrind-out-file=${callgrindOut}`,
      // nothing counted, and about a tenth of the slowdown, until the window switches instrumentation on
      "--instr-atstart=no",
      // V8 writes and rewrites machine code in its heap
      "--smc-check=all-non-file",
      process.execPath,
      // one thread, compiles and collections on it: whether the helper threads' compile jobs and marking fell in the
      // window moved the service's count by 6 to 15 % between identical runs without it
      "--predictable",
      ...args
    ], { env, stdio: ["ignore", "pipe", "pipe"] })
  const tail: Array<string> = []
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString("utf8").split("\n").filter((line) => line !== ""))
    tail.splice(0, tail.length - 30)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  children.add(child)
  child.on("exit", () => children.delete(child))
  const describeExit = () =>
    `${name} exited (code ${child.exitCode}, signal ${child.signalCode}); its last output:\n` +
    tail.map((line) => `  | ${line}`).join("\n")
  return { child, describeExit }
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  child.kill("SIGTERM")
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000)
  await exited
  clearTimeout(timer)
}

const stopAll = async () => {
  await Promise.all([...children].map(stop))
  const silent = await blackhole
  silent?.close()
}

process.on("SIGINT", () => {
  console.error("\ninterrupted: stopping the child processes")
  void stopAll().then(() => process.exit(130))
})

const readyWithinMs = callgrind ? 300_000 : 60_000

const waitReady = async (url: string, started: ReturnType<typeof start>) => {
  const deadline = Date.now() + readyWithinMs
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null || started.child.signalCode !== null) throw new Error(started.describeExit())
    try {
      const response = await request(url, { headersTimeout: 2000, bodyTimeout: 2000 })
      await response.body.dump()
      if (response.statusCode === 200) return
    } catch {
      // not listening yet
    }
    await sleep(200)
  }
  throw new Error(`${url} did not answer 200 within ${readyWithinMs / 1000} s`)
}

const call = async (method: "GET" | "POST", url: string, headers: Record<string, string> = {}) => {
  const response = await request(url, { method, headers, headersTimeout: 10_000, bodyTimeout: 10_000 })
  const text = await response.body.text()
  if (response.statusCode !== 200) throw new Error(`${method} ${url}: ${response.statusCode} ${text}`)
  return text
}

// == /proc

/** The process's CPU ticks and RSS, read the way the arena's sampler reads them. */
const reading = (pid: number) =>
  Option.getOrThrowWith(Effect.runSync(readProcess(pid)), () => new Error(`process ${pid} is gone`))

// == simulators

interface Simulator {
  readonly url: string
  readonly started: ReturnType<typeof start>
}

const startSimulator = async (fee: number): Promise<Simulator> => {
  const port = await Effect.runPromise(freePort)
  const started = start(`simulator (fee ${fee})`, [
    "tools/simulator/main.ts",
    "--port",
    String(port),
    "--fee",
    String(fee)
  ], {
    PATH: process.env.PATH ?? ""
  })
  const url = `http://127.0.0.1:${port}`
  await waitReady(`${url}/payments/service-health`, started)
  return { url, started }
}

const simulatorTotal = async (simulator: Simulator) => {
  const text = await call("GET", `${simulator.url}/admin/payments-summary`, { "x-rinha-token": token })
  return (JSON.parse(text) as { totalRequests: number }).totalRequests
}

const forwardsNothing = (target: TargetName) => target === "null" || target === "intake" || target === "floor"
const runsTheService = (target: TargetName) => target === "service" || target === "baseline" || target === "intake"
/** Run as the Dockerfile runs the service: its Node flags and its runtime stage's ENV. */
const runsAsTheImage = (target: TargetName) => runsTheService(target) || target === "floor"

/**
 * The simulators' counts once they have stopped growing (two equal reads 0.5 s apart, at most `drainMs` later): the
 * payments a target still holds when its load ends are part of its work. The null backend forwards nothing.
 */
const settled = async (simulators: ReadonlyArray<Simulator>, target: TargetName) => {
  let counts = await Promise.all(simulators.map(simulatorTotal))
  const drainMs = forwardsNothing(target) ? 0 : callgrind ? 60_000 : 10_000
  for (let waited = 0, steady = 0; waited < drainMs && steady < 2; waited += 500) {
    await sleep(500)
    const now = await Promise.all(simulators.map(simulatorTotal))
    steady = now.every((count, i) => count === counts[i]) ? steady + 1 : 0
    counts = now
  }
  return counts
}

// == the intake target's processors

/** Accepts connections and never answers: the intake target's processors. Started on first use. */
interface Silent {
  readonly url: string
  readonly close: () => void
}
let blackhole: Promise<Silent> | undefined
const silentProcessors = () =>
  blackhole ??= Effect.runPromise(freePort).then((port) =>
    new Promise<Silent>((resolve) => {
      const sockets = new Set<Socket>()
      const server = createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      const close = () => {
        for (const socket of sockets) socket.destroy()
        server.close()
      }
      server.listen(port, targetHost, () => resolve({ url: `http://${targetHost}:${port}`, close }))
    })
  )

// == callgrind

/**
 * Sends a command to a target under callgrind. vgdb finds the target's pipes by its HOST variable, which the targets
 * have set to their listen address; callgrind_control prints "OK." even when vgdb found no pipes, so stderr tells.
 */
const callgrindControl = async (args: ReadonlyArray<string>) => {
  const { stderr } = await promisify(execFile)("callgrind_control", [...args], {
    timeout: 60_000,
    env: { ...process.env, HOST: targetHost }
  })
  if (/error|failed/i.test(stderr)) throw new Error(`callgrind_control ${args.join(" ")}: ${stderr}`)
}

/**
 * Dumps the counts since the last zeroing (the process's first dump: `<out>.1`) and reads their total, and how many
 * of them V8's optimizing compilers took (`Compiler::CompileOptimized`, callees included): whether a burst of
 * tier-ups falls in the window is most of what moves the total between identical runs.
 */
const windowInstructions = async (pid: number, out: string) => {
  await callgrindControl(["--dump=window", String(pid)])
  const file = `${out.replace("%p", String(pid))}.1`
  const summary = /^summary: (\d+)$/m.exec(readFileSync(file, "utf8"))
  if (summary === null) throw new Error(`no summary line in ${file}`)
  const { stdout } = await promisify(execFile)("callgrind_annotate", ["--inclusive=yes", "--threshold=100", file], {
    maxBuffer: 256 * 1024 ** 2
  })
  const compiling = /^\s*([\d,]+) .*v8::internal::Compiler::CompileOptimized\(/m.exec(stdout)
  return { total: Number(summary[1]), compiling: compiling === null ? 0 : Number(compiling[1].replaceAll(",", "")) }
}

// == load

interface LoadStats {
  sent: number
  accepted: number
  non2xx: number
  errors: number
  maxLagMs: number
  readonly histogram: hdr.Histogram
}

const newStats = (): LoadStats => ({
  sent: 0,
  accepted: 0,
  non2xx: 0,
  errors: 0,
  maxLagMs: 0,
  // microseconds, up to 60 s
  histogram: hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3
  })
})

/**
 * Sends payment k at `startedAt + k / rate` for `seconds`, whatever the answers: an open model. Calls `onWindow` once,
 * when the first payment of the measured window is due; payments sent from then on count in the returned stats.
 */
const runLoad = async (url: string, seconds: number, windowAt: number, onWindow: () => void, rate: number) => {
  const pool = new Pool(url, { connections: 64, headersTimeout: 30_000, bodyTimeout: 30_000 })
  const warm = newStats()
  const measured = newStats()
  const inFlight = new Set<Promise<void>>()
  const send = async (stats: LoadStats) => {
    const body = JSON.stringify({ correlationId: randomUUID(), amount: 19.9 })
    const sentAt = performance.now()
    try {
      const response = await pool.request({
        method: "POST",
        path: "/payments",
        headers: { "content-type": "application/json" },
        body
      })
      await response.body.dump()
      stats.histogram.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)))
      if (response.statusCode >= 200 && response.statusCode < 300) stats.accepted++
      else stats.non2xx++
    } catch {
      stats.errors++
    }
  }
  const total = Math.round(rate * seconds)
  const first = Math.round(rate * windowAt)
  const startedAt = performance.now()
  let k = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now()
      for (; k < total && startedAt + (k * 1000) / rate <= now; k++) {
        if (k === first) onWindow()
        const stats = k >= first ? measured : warm
        stats.sent++
        stats.maxLagMs = Math.max(stats.maxLagMs, now - (startedAt + (k * 1000) / rate))
        const sending = send(stats)
        inFlight.add(sending)
        void sending.then(() => inFlight.delete(sending))
      }
      if (k < total) setTimeout(tick, 1)
      else resolve()
    }
    tick()
  })
  const sendingMs = performance.now() - startedAt - windowAt * 1000
  await Promise.all(inFlight)
  await pool.close()
  return { stats: measured, achievedRate: measured.sent / (sendingMs / 1000) }
}

// == one target

interface Result {
  readonly target: TargetName
  readonly round: number
  readonly pid: number
  /**
   * Payments the simulators recorded from the window's start until they stopped growing; null and intake forward
   * none.
   */
  readonly payments: number
  readonly posts: number
  readonly accepted: number
  readonly non2xx: number
  readonly errors: number
  readonly cpuMs: number
  /** CPU ms per payment, or per accepted POST for the null backend and the intake. */
  readonly cpuMsPer: number
  /** The kernel's part of `cpuMsPer` (stime): system calls and the sockets' TCP work, the same for any code. */
  readonly systemMsPer: number
  readonly cpuPer: "payment" | "POST"
  /**
   * With --callgrind: instructions the target executed in the window, and those of V8's optimizing compilers among
   * them; per payment (per POST for null and intake).
   */
  readonly instructions: { readonly total: number; readonly compiling: number } | undefined
  readonly instructionsPer: { readonly total: number; readonly withoutCompiles: number } | undefined
  readonly peakRssMiB: number
  readonly hwmMiB: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly achievedRate: number
  readonly maxLagMs: number
}

/**
 * The file as plain JavaScript under bench-out/js: run as .ts, Node loads its type stripper (about 40 MiB), which
 * the built service does not carry either.
 */
const plainJs = (file: string) => {
  const outfile = `bench-out/js/${file.replace(/^.*\//, "").replace(/\.ts$/, ".mjs")}`
  buildSync({ entryPoints: [file], outfile, format: "esm", platform: "node", target: "node24", logLevel: "error" })
  return outfile
}

const targetCommand = (name: TargetName): { args: Array<string>; ready: string } => {
  switch (name) {
    case "service":
    case "intake":
      return {
        args: [...nodeFlags, "dist/main.js"],
        ready: "/ready"
      }
    case "baseline":
      return { args: [...baselineNodeFlags, baselineMain], ready: "/ready" }
    case "null":
      return { args: [plainJs("tools/arena/NullBackend.ts")], ready: "/payments-summary" }
    case "reference":
      return { args: [plainJs("scripts/bench/reference.ts")], ready: "/payments-summary" }
    case "floor":
      return { args: [...nodeFlags, plainJs("scripts/bench/effect-floor.ts")], ready: "/payments-summary" }
  }
}

interface Launched {
  readonly name: TargetName
  readonly simulators: ReadonlyArray<Simulator>
  readonly pid: number
  readonly url: string
  readonly started: ReturnType<typeof start>
  readonly callgrindOut: string | undefined
}

/** Starts a target against `simulators` (emptied first) and waits until it answers. */
const launch = async (name: TargetName, simulators: ReadonlyArray<Simulator>): Promise<Launched> => {
  for (const simulator of simulators) {
    await call("POST", `${simulator.url}/admin/purge-payments`, { "x-rinha-token": token })
  }
  const port = await Effect.runPromise(freePort)
  const env: Record<string, string> = {
    ...(runsAsTheImage(name) ? image.env : {}),
    PATH: process.env.PATH ?? "",
    NODE_ENV: "production",
    PORT: String(port),
    HOST: targetHost,
    PAYMENT_PROCESSOR_URL_DEFAULT: simulators[0].url,
    PAYMENT_PROCESSOR_URL_FALLBACK: simulators[1].url,
    LOG_LEVEL: "Warn"
  }
  if (runsTheService(name) && databaseUrl !== undefined) env.DATABASE_URL = databaseUrl
  Object.assign(env, name === "baseline" ? baselineEnv : runsTheService(name) ? serviceEnv : {})
  if (name === "intake") {
    const silent = await silentProcessors()
    Object.assign(env, {
      PAYMENT_PROCESSOR_URL_DEFAULT: silent.url,
      PAYMENT_PROCESSOR_URL_FALLBACK: silent.url,
      PAYMENT_WORKERS: "1",
      // every POST of the run stays queued
      PAYMENT_QUEUE_CAPACITY: String(Math.ceil(Math.max(rate, warmupRate) * (warmup + duration)) + 1000),
      // nothing it holds will ever leave: no grace to wait out when it is stopped
      SHUTDOWN_GRACE: "100 millis"
    })
  }
  const { args, ready } = targetCommand(name)
  const callgrindOut = callgrind
    ? `bench-out/callgrind/${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.%p`
    : undefined
  if (callgrindOut !== undefined) mkdirSync("bench-out/callgrind", { recursive: true })
  const started = start(name, args, env, callgrindOut)
  const pid = started.child.pid
  if (pid === undefined) throw new Error(`${name} did not start`)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitReady(`${url}${ready}`, started)
    await call("POST", `${url}/purge-payments`)
  } catch (error) {
    await stop(started.child)
    throw error
  }
  return { name, simulators, pid, url, started, callgrindOut }
}

/** Loads a launched target through its warm-up and window, reads what it cost, and stops it. */
const measure = async (target: Launched, round: number): Promise<Result> => {
  const { callgrindOut, name, pid, simulators, started, url } = target
  let sampler: ReturnType<typeof setInterval> | undefined
  try {
    console.log(
      `${name}: pid ${pid}, ${warmup} s warm-up at ${warmupRate}/s, then ${duration} s measured at ${rate}/s`
    )

    let peakRssBytes = 0
    const sampleRss = () => peakRssBytes = Math.max(peakRssBytes, reading(pid).rssBytes)
    sampler = setInterval(sampleRss, 100)
    sampleRss()

    let atWindow: ProcessReading = reading(pid)
    let before: Array<number>
    let load: Awaited<ReturnType<typeof runLoad>>
    if (callgrind) {
      // the warm-up's payments settle before the count starts: the window holds the measured payments' work alone
      if (warmup > 0) await runLoad(url, warmup, warmup, () => {}, warmupRate)
      before = await settled(simulators, name)
      await callgrindControl(["--instr=on", String(pid)])
      await callgrindControl(["--zero", String(pid)])
      atWindow = reading(pid)
      load = await runLoad(url, duration, 0, () => {}, rate)
    } else {
      let totalsAtWindow: Promise<Array<number>> = Promise.resolve([0, 0])
      load = await runLoad(url, warmup + duration, warmup, () => {
        atWindow = reading(pid)
        totalsAtWindow = Promise.all(simulators.map(simulatorTotal))
      }, rate)
      before = await totalsAtWindow
    }
    // the payments still queued at the window's end belong to it
    const after = await settled(simulators, name)
    const instructions = callgrindOut === undefined ? undefined : await windowInstructions(pid, callgrindOut)
    const end = reading(pid)
    const cpuMs = ((end.cpuTicks - atWindow.cpuTicks) * 1000) / clockTicksPerSecond
    const systemMs = ((end.systemTicks - atWindow.systemTicks) * 1000) / clockTicksPerSecond
    peakRssBytes = Math.max(peakRssBytes, end.rssBytes)
    const hwmMiB = end.peakRssBytes / 1024 ** 2
    if (started.child.exitCode !== null) throw new Error(started.describeExit())

    const payments = after.reduce((sum, count, i) => sum + count - before[i], 0)
    const { stats } = load
    const perPost = forwardsNothing(name)
    const counted = Math.max(1, perPost ? stats.accepted : payments)
    const percentile = (p: number) => stats.histogram.getValueAtPercentile(p) / 1000
    return {
      target: name,
      round,
      pid,
      payments,
      posts: stats.sent,
      accepted: stats.accepted,
      non2xx: stats.non2xx,
      errors: stats.errors,
      cpuMs,
      cpuMsPer: cpuMs / counted,
      systemMsPer: systemMs / counted,
      cpuPer: perPost ? "POST" : "payment",
      instructions,
      instructionsPer: instructions === undefined ? undefined : {
        total: instructions.total / counted,
        withoutCompiles: (instructions.total - instructions.compiling) / counted
      },
      peakRssMiB: peakRssBytes / 1024 ** 2,
      hwmMiB,
      p50Ms: percentile(50),
      p99Ms: percentile(99),
      maxMs: stats.histogram.maxValue / 1000,
      achievedRate: load.achievedRate,
      maxLagMs: stats.maxLagMs
    }
  } finally {
    clearInterval(sampler)
    await stop(started.child)
  }
}

// == report

const millions = (count: number | undefined) => count === undefined ? "-" : (count / 1e6).toFixed(3)

const table = (results: ReadonlyArray<Result>) => {
  const per = (r: Result) => r.cpuPer === "POST" ? " per POST" : ""
  const columns: ReadonlyArray<readonly [string, (r: Result) => string]> = [
    ["target", (r) => rounds > 1 ? `${r.target} #${r.round}` : r.target],
    ["payments", (r) => r.cpuPer === "POST" ? `none (${r.accepted} POSTs)` : String(r.payments)],
    ...(callgrind
      ? [
        ["instructions/payment (M)", (r: Result) => `${millions(r.instructionsPer?.total)}${per(r)}`] as const,
        [
          "without optimizing compiles (M)",
          (r: Result) => `${millions(r.instructionsPer?.withoutCompiles)}${per(r)}`
        ] as const,
        ["CPU ms/payment under valgrind", (r: Result) => `${r.cpuMsPer.toFixed(1)}${per(r)}`] as const
      ]
      : [
        ["CPU ms/payment", (r: Result) => `${r.cpuMsPer.toFixed(3)}${per(r)}`] as const,
        ["of which kernel", (r: Result) => r.systemMsPer.toFixed(3)] as const,
        ["peak RSS MiB (HWM)", (r: Result) => `${r.peakRssMiB.toFixed(1)} (${r.hwmMiB.toFixed(1)})`] as const,
        ["POST p50 ms", (r: Result) => r.p50Ms.toFixed(2)] as const,
        ["POST p99 ms", (r: Result) => r.p99Ms.toFixed(2)] as const
      ]),
    ["errors", (r) => `${r.errors} errors, ${r.non2xx} non-2xx`]
  ]
  const header = columns.map(([title]) => title)
  const rows = results.map((r) => columns.map(([, cell]) => cell(r)))
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`
  return [line(header), `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`, ...rows.map(line)].join("\n")
}

/**
 * Prints `top`'s cost over `bottom`'s in each round where both ran, and their median over the rounds; returns the
 * median. Under callgrind the ratio compared is of the instructions without V8's optimizing compiles.
 */
const printRatios = (results: ReadonlyArray<Result>, top: TargetName, bottom: TargetName) => {
  const ratios: Array<number> = []
  for (let round = 1; round <= rounds; round++) {
    const upper = results.find((r) => r.target === top && r.round === round)
    const lower = results.find((r) => r.target === bottom && r.round === round)
    if (upper === undefined || lower === undefined) continue
    const [upperPer, lowerPer] = [upper.instructionsPer, lower.instructionsPer]
    let shown: string
    if (upperPer !== undefined && lowerPer !== undefined) {
      const withoutCompiles = upperPer.withoutCompiles / lowerPer.withoutCompiles
      ratios.push(withoutCompiles)
      shown = `instructions ratio: ${(upperPer.total / lowerPer.total).toFixed(3)}, ` +
        `${withoutCompiles.toFixed(3)} without optimizing compiles`
    } else {
      const cpu = upper.cpuMsPer / lower.cpuMsPer
      ratios.push(cpu)
      shown = `CPU ratio: ${cpu.toFixed(2)}`
    }
    const ofRound = rounds > 1 ? ` (round ${round})` : ""
    console.log(`${ratios.length === 1 ? "\n" : ""}${top} / ${bottom} ${shown}${ofRound}`)
  }
  const middle = ratios.length === 0 ? undefined : median(ratios)
  if (rounds > 1 && middle !== undefined) {
    const what = callgrind ? "instructions ratio without optimizing compiles" : "CPU ratio"
    console.log(`${top} / ${bottom} ${what}, median of ${ratios.length} rounds: ${middle.toFixed(3)}`)
  }
  return middle
}

const main = async () => {
  const load = loadavg().map((value) => value.toFixed(2)).join(" ")
  console.log(`node ${process.version}, CLK_TCK ${clockTicksPerSecond}, load average at start: ${load}`)
  const otherNode = otherNodeThanImage(image.nodeVersion, process.versions.node)
  if (otherNode !== undefined) console.log(`WARNING: ${otherNode}`)
  console.log(
    databaseUrl === undefined
      ? "database: PGlite embedded (in-process: its CPU and memory count in the service's figures)"
      : `database: PostgreSQL at ${new URL(databaseUrl).host} (its CPU is the database's, not counted)`
  )
  if (only.includes("baseline")) {
    const settings = (env: Record<string, string>) =>
      Object.keys(env).length === 0 ? "no other settings" : Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ")
    const same = baselineIsDist && settings(serviceEnv) === settings(baselineEnv)
    console.log(
      `baseline: ${baselineMain}, ${settings(baselineEnv)}; service: dist/main.js, ${settings(serviceEnv)}` +
        (same ? " (the same on both sides: the ratio is the method's own noise)" : "")
    )
  }
  const simulatorPair = async () => [await startSimulator(0.05), await startSimulator(0.15)]
  const targets = targetNames.filter((name) => only.includes(name))
  // side by side, each target counts its payments at simulators of its own
  const shared = together ? undefined : await simulatorPair()
  const lineup: Array<{ readonly name: TargetName; readonly simulators: ReadonlyArray<Simulator> }> = []
  for (const name of targets) lineup.push({ name, simulators: shared ?? await simulatorPair() })
  const results: Array<Result> = []
  const report = (r: Result) => {
    results.push(r)
    if (r.achievedRate < rate * 0.98 || r.maxLagMs > 50) {
      console.log(
        `  ${r.target}: load generator lagged: ${r.achievedRate.toFixed(1)}/s achieved, ` +
          `up to ${r.maxLagMs.toFixed(0)} ms late`
      )
    }
  }
  for (let round = 1; round <= rounds; round++) {
    if (together) {
      // every target up before any load starts: the windows coincide
      const launched = await Promise.all(lineup.map(({ name, simulators }) => launch(name, simulators)))
      const measured = await Promise.all(launched.map((target) => measure(target, round)))
      measured.forEach(report)
      continue
    }
    for (const { name, simulators } of round % 2 === 1 ? lineup : [...lineup].reverse()) {
      report(await measure(await launch(name, simulators), round))
    }
  }
  await stopAll()

  console.log("")
  console.log(table(results))
  const medianRatio = printRatios(results, "service", "reference")
  const baselineRatio = printRatios(results, "service", "baseline")
  const intakeRatio = printRatios(results, "intake", "null")
  const floorRatio = printRatios(results, "floor", "null")
  const handlersRatio = printRatios(results, "intake", "floor")

  mkdirSync("bench-out", { recursive: true })
  const file = `bench-out/cpu-${new Date().toISOString().replace(/[:.]/g, "-")}.json`
  const config = {
    callgrind,
    rate,
    duration,
    warmup,
    warmupRate,
    rounds,
    together,
    nodeFlags: nodeFlags.join(" "),
    imageEnv: image.env,
    env: serviceEnv,
    baseline: only.includes("baseline")
      ? { main: baselineMain, env: baselineEnv, nodeFlags: baselineNodeFlags.join(" ") }
      : undefined,
    database: databaseUrl === undefined ? "pglite" : "postgres"
  }
  const summary = {
    node: process.version,
    imageNode: image.nodeVersion,
    loadAtStart: load,
    config,
    results,
    medianRatio,
    baselineRatio,
    intakeRatio,
    floorRatio,
    handlersRatio
  }
  writeFileSync(file, JSON.stringify(summary, null, 2) + "\n")
  console.log(`results: ${file}`)
}

main().catch(async (error: unknown) => {
  console.error(`bench:cpu failed: ${error instanceof Error ? error.message : String(error)}`)
  await stopAll()
  process.exit(1)
})

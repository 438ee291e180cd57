/**
 * CPU per payment of the service, the null backend and the plain-Node reference forwarder, one after another, against
 * two processor simulators at a fixed open-model rate.
 *   pnpm bench:cpu [--rate 300] [--duration 30] [--warmup 5] [--only service,null,reference] [--node-flags="..."]
 * The service is dist/main.js (run `pnpm build` first) with the Dockerfile's Node flags (unless --node-flags replaces
 * them) and the ENV of its runtime stage; with DATABASE_URL set it uses that PostgreSQL, else PGlite.
 */
// The targets run one after another and the polls and retries wait in turn: awaiting in loops is the point.
/* oxlint-disable no-await-in-loop */
import { Effect, Option } from "effect"
import { buildSync } from "esbuild"
import * as hdr from "hdr-histogram-js"
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdirSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { setTimeout as sleep } from "node:timers/promises"
import { parseArgs } from "node:util"
import { Pool, request } from "undici"
import { readImage } from "../../tools/arena/Image.ts"
import { clockTicksPerSecond, readProcess } from "../../tools/arena/ProcessSampler.ts"
import { freePort } from "../../tools/process/Processes.ts"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    rate: { type: "string", default: "300" },
    duration: { type: "string", default: "30" },
    warmup: { type: "string", default: "5" },
    only: { type: "string", default: "service,null,reference" },
    "node-flags": { type: "string" }
  }
})
const rate = Number(values.rate)
const duration = Number(values.duration)
const warmup = Number(values.warmup)
const targetNames = ["service", "null", "reference"] as const
type TargetName = (typeof targetNames)[number]
const only = values.only.split(",").map((name) => name.trim())
for (const name of only) {
  if (!targetNames.some((known) => known === name)) throw new Error(`unknown target ${name} in --only`)
}
if (!(rate > 0 && duration > 0 && warmup >= 0)) throw new Error("--rate and --duration must be > 0, --warmup >= 0")

const image = await Effect.runPromise(readImage("Dockerfile"))
const nodeFlags = values["node-flags"]?.split(/\s+/).filter((flag) => flag !== "") ?? image.nodeFlags

const token = "123"
const databaseUrl = process.env.DATABASE_URL

// == child processes

const children = new Set<ChildProcess>()

const start = (name: string, args: ReadonlyArray<string>, env: Record<string, string>) => {
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] })
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

const stopAll = () => Promise.all([...children].map(stop))

process.on("SIGINT", () => {
  console.error("\ninterrupted: stopping the child processes")
  void stopAll().then(() => process.exit(130))
})

const waitReady = async (url: string, started: ReturnType<typeof start>) => {
  const deadline = Date.now() + 60_000
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
  throw new Error(`${url} did not answer 200 within 60 s`)
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
const runLoad = async (url: string, seconds: number, windowAt: number, onWindow: () => void) => {
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
  readonly pid: number
  /** Payments the simulators recorded from the window's start until they stopped growing; null forwards none. */
  readonly payments: number
  readonly posts: number
  readonly accepted: number
  readonly non2xx: number
  readonly errors: number
  readonly cpuMs: number
  /** CPU ms per payment, or per accepted POST for the null backend. */
  readonly cpuMsPer: number
  readonly cpuPer: "payment" | "POST"
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
      return {
        args: [...nodeFlags, "dist/main.js"],
        ready: "/ready"
      }
    case "null":
      return { args: [plainJs("tools/arena/NullBackend.ts")], ready: "/payments-summary" }
    case "reference":
      return { args: [plainJs("scripts/bench/reference.ts")], ready: "/payments-summary" }
  }
}

const runTarget = async (name: TargetName, simulators: ReadonlyArray<Simulator>): Promise<Result> => {
  for (const simulator of simulators) {
    await call("POST", `${simulator.url}/admin/purge-payments`, { "x-rinha-token": token })
  }
  const port = await Effect.runPromise(freePort)
  const env: Record<string, string> = {
    ...(name === "service" ? image.env : {}),
    PATH: process.env.PATH ?? "",
    NODE_ENV: "production",
    PORT: String(port),
    HOST: "127.0.0.1",
    PAYMENT_PROCESSOR_URL_DEFAULT: simulators[0].url,
    PAYMENT_PROCESSOR_URL_FALLBACK: simulators[1].url,
    LOG_LEVEL: "Warn"
  }
  if (name === "service" && databaseUrl !== undefined) env.DATABASE_URL = databaseUrl
  const { args, ready } = targetCommand(name)
  const started = start(name, args, env)
  const pid = started.child.pid
  if (pid === undefined) throw new Error(`${name} did not start`)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitReady(`${url}${ready}`, started)
    await call("POST", `${url}/purge-payments`)
    console.log(`${name}: pid ${pid}, ${warmup} s warm-up, then ${duration} s measured at ${rate}/s`)

    let peakRssBytes = 0
    const sampleRss = () => peakRssBytes = Math.max(peakRssBytes, reading(pid).rssBytes)
    const sampler = setInterval(sampleRss, 100)
    sampleRss()

    let cpuAtWindow = 0
    let totalsAtWindow: Promise<Array<number>> = Promise.resolve([0, 0])
    const load = await runLoad(url, warmup + duration, warmup, () => {
      cpuAtWindow = reading(pid).cpuTicks
      totalsAtWindow = Promise.all(simulators.map(simulatorTotal))
    })
    const before = await totalsAtWindow

    // until the simulators stop counting: the payments still queued at the window's end belong to it
    let after = await Promise.all(simulators.map(simulatorTotal))
    const drainMs = name === "null" ? 0 : 10_000
    for (let waited = 0, steady = 0; waited < drainMs && steady < 2; waited += 500) {
      await sleep(500)
      const now = await Promise.all(simulators.map(simulatorTotal))
      steady = now.every((count, i) => count === after[i]) ? steady + 1 : 0
      after = now
    }
    const end = reading(pid)
    const cpuMs = ((end.cpuTicks - cpuAtWindow) * 1000) / clockTicksPerSecond
    clearInterval(sampler)
    peakRssBytes = Math.max(peakRssBytes, end.rssBytes)
    const hwmMiB = end.peakRssBytes / 1024 ** 2
    if (started.child.exitCode !== null) throw new Error(started.describeExit())

    const payments = after.reduce((sum, count, i) => sum + count - before[i], 0)
    const { stats } = load
    const perPost = name === "null"
    const percentile = (p: number) => stats.histogram.getValueAtPercentile(p) / 1000
    return {
      target: name,
      pid,
      payments,
      posts: stats.sent,
      accepted: stats.accepted,
      non2xx: stats.non2xx,
      errors: stats.errors,
      cpuMs,
      cpuMsPer: cpuMs / Math.max(1, perPost ? stats.accepted : payments),
      cpuPer: perPost ? "POST" : "payment",
      peakRssMiB: peakRssBytes / 1024 ** 2,
      hwmMiB,
      p50Ms: percentile(50),
      p99Ms: percentile(99),
      maxMs: stats.histogram.maxValue / 1000,
      achievedRate: load.achievedRate,
      maxLagMs: stats.maxLagMs
    }
  } finally {
    await stop(started.child)
  }
}

// == report

const table = (results: ReadonlyArray<Result>) => {
  const header = ["target", "payments", "CPU ms/payment", "peak RSS MiB (HWM)", "POST p50 ms", "POST p99 ms", "errors"]
  const rows = results.map((r) => [
    r.target,
    r.cpuPer === "POST" ? `none (${r.accepted} POSTs)` : String(r.payments),
    r.cpuPer === "POST" ? `${r.cpuMsPer.toFixed(3)} per POST` : r.cpuMsPer.toFixed(3),
    `${r.peakRssMiB.toFixed(1)} (${r.hwmMiB.toFixed(1)})`,
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    `${r.errors} errors, ${r.non2xx} non-2xx`
  ])
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`
  return [line(header), `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`, ...rows.map(line)].join("\n")
}

const main = async () => {
  const load = loadavg().map((value) => value.toFixed(2)).join(" ")
  console.log(`node ${process.version}, CLK_TCK ${clockTicksPerSecond}, load average at start: ${load}`)
  console.log(
    databaseUrl === undefined
      ? "database: PGlite embedded (in-process: its CPU and memory count in the service's figures)"
      : `database: PostgreSQL at ${new URL(databaseUrl).host} (its CPU is the database's, not counted)`
  )
  const simulators = [await startSimulator(0.05), await startSimulator(0.15)]
  const results: Array<Result> = []
  for (const name of targetNames.filter((name) => only.includes(name))) {
    results.push(await runTarget(name, simulators))
    const r = results[results.length - 1]
    if (r.achievedRate < rate * 0.98 || r.maxLagMs > 50) {
      console.log(
        `  load generator lagged: ${r.achievedRate.toFixed(1)}/s achieved, up to ${r.maxLagMs.toFixed(0)} ms late`
      )
    }
  }
  await stopAll()

  console.log("")
  console.log(table(results))
  const service = results.find((r) => r.target === "service")
  const reference = results.find((r) => r.target === "reference")
  if (service !== undefined && reference !== undefined) {
    console.log(`\nservice / reference CPU ratio: ${(service.cpuMsPer / reference.cpuMsPer).toFixed(2)}`)
  }

  mkdirSync("bench-out", { recursive: true })
  const file = `bench-out/cpu-${new Date().toISOString().replace(/[:.]/g, "-")}.json`
  const config = {
    rate,
    duration,
    warmup,
    nodeFlags: nodeFlags.join(" "),
    imageEnv: image.env,
    database: databaseUrl === undefined ? "pglite" : "postgres"
  }
  writeFileSync(file, JSON.stringify({ node: process.version, loadAtStart: load, config, results }, null, 2) + "\n")
  console.log(`results: ${file}`)
}

main().catch(async (error: unknown) => {
  console.error(`bench:cpu failed: ${error instanceof Error ? error.message : String(error)}`)
  await stopAll()
  process.exit(1)
})

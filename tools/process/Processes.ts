import { Config, type Duration, Effect, Option, Schedule, Schema } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { randomInt } from "node:crypto"
import { createWriteStream, existsSync, readFileSync } from "node:fs"
import { connect, createServer } from "node:net"
import { join } from "node:path"

export class ProcessError extends Schema.TaggedError<ProcessError>()("ProcessError", {
  process: Schema.String,
  message: Schema.String
}) {}

export interface Started {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  readonly log: string
}

const bindable = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const server = createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen(port, "0.0.0.0", () => server.close(() => resume(Effect.succeed(true))))
  })

// the kernel hands out ephemeral ports (32768-60999 by default) to outgoing connections and to listen(0): a port
// taken from that range can be another socket's by the time a child binds it, so ports are drawn below it
/** The ports this process draws from, or undefined where the kernel's ephemeral range is unknown. */
export const drawnPorts = (poolId: Option.Option<number>) => {
  const file = "/proc/sys/net/ipv4/ip_local_port_range"
  const [low] = existsSync(file) ? readFileSync(file, "utf8").trim().split(/\s+/).map(Number) : []
  if (low === undefined || !Number.isFinite(low) || low <= 12_000) return undefined
  const range = { from: 10_000, to: low - 1 }
  return Option.match(poolId, { onNone: () => range, onSome: (id) => portSlice(range, id) })
}

// test files run in parallel worker processes, and a port one of them drew is free until its child binds it, after
// a second or more of startup: another worker could draw it meanwhile. Each worker draws from a slice of its own,
// by Vitest's pool id (unique among the workers running at once), and never hands out the same port twice itself.
const poolSlices = 16
/** The ports the Vitest worker with `poolId` (1, 2, ...) draws from. */
export const portSlice = (range: { readonly from: number; readonly to: number }, poolId: number) => {
  const size = Math.floor((range.to - range.from + 1) / poolSlices)
  const from = range.from + ((poolId - 1) % poolSlices) * size
  return { from, to: from + size - 1 }
}
const handedOut = new Set<number>()

/** A TCP port nothing listens on right now, outside the range the kernel gives outgoing connections. */
export const freePort: Effect.Effect<number> = Effect.gen(function*() {
  const poolId = yield* Config.option(Config.Int("VITEST_POOL_ID")).pipe(Effect.orElseSucceed(Option.none<number>))
  const range = drawnPorts(poolId)
  if (range === undefined) return yield* kernelPort
  if (handedOut.size > (range.to - range.from) / 2) handedOut.clear()
  // not Effect's Random: a test's is seeded, and parallel test files would draw the same ports
  return yield* Effect.sync(() => randomInt(range.from, range.to + 1)).pipe(
    Effect.flatMap((port) =>
      handedOut.has(port)
        ? Effect.succeedNone
        : Effect.map(bindable(port), (free) => free ? Option.some(port) : Option.none())
    ),
    Effect.repeat({ until: Option.isSome }),
    Effect.map((port) => Option.getOrThrow(port)),
    Effect.tap((port) => Effect.sync(() => handedOut.add(port)))
  )
})

const kernelPort = Effect.callback<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * Runs a command with its output in `<dir>/<name>.log`. When the scope closes it gets SIGTERM, and SIGKILL if
 * it is still there after `grace`: whatever a tool started ends with it, on success, failure or Ctrl-C.
 */
const joinGroupsThenExec =
  `printf '%s\\n' "$ARENA_CGROUPS" | while read -r group; do echo $$ > "$group/cgroup.procs"; done
unset ARENA_CGROUPS
exec "$0" "$@"`

export const startProcess = (options: {
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  /** The whole environment of the process. */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly dir: string
  readonly grace?: number
  /** cgroup directories to join before the command runs, so its first allocation and its children count there. */
  readonly cgroups?: ReadonlyArray<string>
}) =>
  Effect.acquireRelease(
    Effect.callback<Started, ProcessError>((resume) => {
      const log = join(options.dir, `${options.name}.log`)
      const out = createWriteStream(log)
      const groups = options.cgroups ?? []
      const [command, args] = groups.length === 0
        ? [options.command, options.args]
        : ["/bin/sh", ["-c", joinGroupsThenExec, options.command, ...options.args]]
      const child = spawn(command, [...args], {
        env: groups.length === 0 ? options.env : { ...options.env, ARENA_CGROUPS: groups.join("\n") },
        stdio: ["ignore", "pipe", "pipe"]
      })
      child.stdout.pipe(out)
      child.stderr.pipe(out)
      child.once("error", (error) =>
        resume(Effect.fail(new ProcessError({ process: options.name, message: error.message }))))
      child.once("spawn", () =>
        resume(Effect.succeed({ name: options.name, pid: child.pid ?? 0, child, log })))
    }),
    ({ child }) =>
      Effect.callback<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        const timer = setTimeout(() => child.kill("SIGKILL"), options.grace ?? 5000)
        child.once("exit", () => {
          clearTimeout(timer)
          resume(Effect.void)
        })
        child.kill("SIGTERM")
      })
  )

/** Fails when the process has exited, naming its log; used while waiting for it to become ready. */
export const ensureRunning = (started: Started) =>
  started.child.exitCode === null && started.child.signalCode === null
    ? Effect.void
    : Effect.fail(
      new ProcessError({
        process: started.name,
        message: `exited (${started.child.exitCode ?? started.child.signalCode}); see ${started.log}${
          logTail(started.log)
        }`
      })
    )

// the end of a log, so a failure on CI (where the file is gone afterwards) says why the process stopped
const logTail = (log: string) => {
  if (!existsSync(log)) return ""
  const lines = readFileSync(log, "utf8").trimEnd().split("\n").filter((line) => !/^\s+at /.test(line))
  return `, which ends:\n${lines.slice(-8).join("\n")}`
}

const httpStatus = (url: string, timeoutMs: number) =>
  Effect.tryPromise({
    try: (signal) =>
      fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }).then((r) =>
        r.arrayBuffer().then(() => r.status)
      ),
    catch: (cause) => new ProcessError({ process: url, message: String(cause) })
  })

/** Polls `url` until it answers 2xx, while every process in `watch` stays alive. */
export const waitHttp = (url: string, options: {
  readonly watch: ReadonlyArray<Started>
  readonly timeout: number
  readonly interval?: number
}) =>
  Effect.gen(function*() {
    yield* Effect.forEach(options.watch, ensureRunning, { discard: true })
    const status = yield* httpStatus(url, 2000)
    if (status < 200 || status >= 300) {
      return yield* new ProcessError({ process: url, message: `answered ${status}` })
    }
  }).pipe(
    Effect.retry({
      schedule: Schedule.spaced(options.interval ?? 100),
      while: (error) => !options.watch.some((s) => s.name === error.process)
    }),
    Effect.timeoutOrElse({
      duration: options.timeout,
      orElse: () => Effect.fail(new ProcessError({ process: url, message: `not ready after ${options.timeout} ms` }))
    })
  )

/** Waits until something accepts TCP connections on 127.0.0.1:`port`, retrying while `alive` says to. */
export const waitTcp = (port: number, options: { readonly alive: () => boolean; readonly timeout: Duration.Input }) =>
  Effect.callback<void, ProcessError>((resume) => {
    const socket = connect({ port, host: "127.0.0.1" })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.void)
    })
    socket.once(
      "error",
      (error) => resume(Effect.fail(new ProcessError({ process: `port ${port}`, message: error.message })))
    )
  }).pipe(
    Effect.retry({ schedule: Schedule.spaced("100 millis"), while: options.alive }),
    Effect.timeout(options.timeout)
  )

/**
 * The official runner's readiness probe (spec §1.2): GET /payments-summary answering 2xx within 3 s, up to
 * 15 tries, 5 s apart. Returns how many tries it took.
 */
export const officialReadiness = (backend: string) =>
  Effect.gen(function*() {
    for (let attempt = 1; attempt <= 15; attempt++) {
      const status = yield* Effect.option(httpStatus(`${backend}/payments-summary`, 3000))
      if (status._tag === "Some" && status.value >= 200 && status.value < 300) return attempt
      if (attempt < 15) yield* Effect.sleep("5 seconds")
    }
    return yield* new ProcessError({ process: "backend", message: "not ready after 15 tries, 5 s apart" })
  })

/**
 * The compose file's resource limits, and Linux cgroups that apply them to the arena's local processes.
 *
 * Memory units follow Docker (compose-go → docker/go-units `RAMInBytes`): a number is bytes; a string is a decimal
 * number, an optional space and an optional unit among b, k, m, g, t, p, case-insensitive, optionally followed by
 * "i" and/or "b" ("110M", "110MB", "110mb", "110MiB" and "110 MiB" are all 110 × 1024² bytes). Every multiple is
 * binary, so the Rinha's "350MB" budget is 350 MiB = 367,001,600 bytes. Fractions are truncated to whole bytes, as
 * Docker does ("0.5GB" = 536,870,912). Compose variable interpolation (`${X:-y}`) is not performed.
 *
 * CPU quotas use a 100 ms period (Docker's): `cpus: 0.55` becomes 55,000 µs of CPU time per 100,000 µs.
 */
import { Data, Effect, Result, Schedule, type Scope } from "effect"
import { constants } from "node:fs"
import { access, mkdir, readFile, rmdir, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { getuid, platform } from "node:process"
import { parse } from "yaml"
import type { CpuThrottling } from "./Model.ts"

export interface ServiceLimit {
  readonly service: string
  readonly cpus: number
  readonly memoryBytes: number
}

export class LimitsError extends Data.TaggedError("LimitsError")<{
  readonly message: string
  readonly service?: string
  readonly cause?: unknown
}> {}

const multipliers: Readonly<Record<string, number>> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5
}

const memoryPattern = /^(\d+(?:\.\d+)?) ?([kmgtp])?(i)?(b)?$/i

/** Docker's reading of a memory size, in bytes; the failure says why the value is not one. */
export const parseMemory = (value: unknown): Result.Result<number, string> => {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value > 0
      ? Result.succeed(value)
      : Result.fail(`memory ${value} is not a positive whole number of bytes`)
  }
  if (typeof value !== "string") return Result.fail(`memory must be a string or a number, not ${typeof value}`)
  const match = memoryPattern.exec(value.trim())
  // "110i" (an "i" with neither a unit nor "b") is rejected, as Docker does
  if (match === null || (match[3] !== undefined && match[2] === undefined)) {
    return Result.fail(`memory "${value}" is not a size such as "110MB", "512MiB" or "0.5GB"`)
  }
  const bytes = Math.trunc(Number(match[1]) * multipliers[(match[2] ?? "").toLowerCase()])
  return bytes > 0 ? Result.succeed(bytes) : Result.fail(`memory "${value}" is zero`)
}

/** A CPU count as compose takes it: a number or a numeric string, greater than zero. */
export const parseCpus = (value: unknown): Result.Result<number, string> => {
  const cpus = typeof value === "number"
    ? value
    : typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value)
    ? Number(value)
    : Number.NaN
  return Number.isFinite(cpus) && cpus > 0
    ? Result.succeed(cpus)
    : Result.fail(`cpus ${JSON.stringify(value)} is not a positive number`)
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const describeCause = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** The limits of a parsed compose document; services without `deploy.resources.limits` are left out. */
export const limitsOfCompose = (document: unknown): Result.Result<ReadonlyArray<ServiceLimit>, LimitsError> => {
  if (!isRecord(document) || !isRecord(document.services)) {
    return Result.fail(new LimitsError({ message: "the compose file has no services" }))
  }
  const limits: Array<ServiceLimit> = []
  for (const [service, definition] of Object.entries(document.services)) {
    const deploy = isRecord(definition) ? definition.deploy : undefined
    const resources = isRecord(deploy) ? deploy.resources : undefined
    const declared = isRecord(resources) ? resources.limits : undefined
    if (declared === undefined || declared === null) continue
    const fail = (reason: string) =>
      Result.fail(new LimitsError({ service, message: `service "${service}": deploy.resources.limits: ${reason}` }))
    if (!isRecord(declared)) return fail("not a mapping")
    if (declared.cpus === undefined) return fail("no cpus")
    if (declared.memory === undefined) return fail("no memory")
    const cpus = parseCpus(declared.cpus)
    if (Result.isFailure(cpus)) return fail(cpus.failure)
    const memory = parseMemory(declared.memory)
    if (Result.isFailure(memory)) return fail(memory.failure)
    limits.push({ service, cpus: cpus.success, memoryBytes: memory.success })
  }
  return Result.succeed(limits)
}

/** Reads the `deploy.resources.limits` of every service of a docker-compose file (YAML merge keys are honoured). */
export const readComposeLimits = Effect.fn("Limits.readComposeLimits")(function*(file: string) {
  const text = yield* Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (cause) => new LimitsError({ message: `cannot read ${file}: ${describeCause(cause)}`, cause })
  })
  const document = yield* Effect.try({
    try: (): unknown => parse(text, { merge: true }),
    catch: (cause) => new LimitsError({ message: `${file} is not valid YAML: ${describeCause(cause)}`, cause })
  })
  return yield* Effect.fromResult(limitsOfCompose(document))
})

/** The sum over services; cpus are rounded to 1e-6 so 0.55 + 0.55 + 0.15 + 0.25 reads 1.5. */
export const totalOf = (limits: ReadonlyArray<ServiceLimit>): { cpus: number; memoryBytes: number } => ({
  cpus: Math.round(limits.reduce((sum, limit) => sum + limit.cpus, 0) * 1e6) / 1e6,
  memoryBytes: limits.reduce((sum, limit) => sum + limit.memoryBytes, 0)
})

// == cgroups

export type CgroupSupport =
  | { readonly version: "v1" | "v2"; readonly root: string }
  | { readonly unavailable: string }

export interface LimitGroup {
  /** Moves a process (all its threads) into the group; its later children are born inside. */
  readonly add: (pid: number) => Effect.Effect<void, LimitsError>
  readonly description: string
  readonly memoryBytes: number
  /** The cgroup directories: one on v2, one per controller (cpu, memory) on v1. */
  readonly directories: ReadonlyArray<string>
  /** What the kernel charged the group so far: its peak memory (page cache included, as Docker counts it) and OOM kills. */
  readonly usage: Effect.Effect<CgroupUsage>
  /** The CFS quota's effect so far; undefined where `cpu.stat` cannot be read. */
  readonly throttling: Effect.Effect<CpuThrottling | undefined>
}

export interface CgroupUsage {
  /** Undefined where the kernel does not keep a peak (cgroup v2 before Linux 5.19). */
  readonly peakBytes: number | undefined
  readonly oomKills: number
}

const readNumber = (path: string) =>
  Effect.map(readText(path), (text) => {
    const value = Number(text?.trim())
    return text === undefined || !Number.isFinite(value) ? undefined : value
  })

/** The throttling counters of a `cpu.stat`: v1 counts `throttled_time` in nanoseconds, v2 `throttled_usec`. */
export const cpuThrottlingOf = (text: string | undefined): CpuThrottling | undefined => {
  const field = (name: string) => {
    const match = new RegExp(`^${name} (\\d+)$`, "m").exec(text ?? "")
    return match === null ? undefined : Number(match[1])
  }
  const periods = field("nr_periods")
  const throttledPeriods = field("nr_throttled")
  const nanos = field("throttled_time")
  const micros = field("throttled_usec")
  if (periods === undefined || throttledPeriods === undefined) return undefined
  const throttledMs = nanos !== undefined ? nanos / 1e6 : micros !== undefined ? micros / 1e3 : undefined
  return throttledMs === undefined ? undefined : { periods, throttledPeriods, throttledMs }
}

/** The `oom_kill` count of a v1 `memory.oom_control` or a v2 `memory.events` file. */
export const oomKillsOf = (text: string | undefined): number => Number(/^oom_kill (\d+)$/m.exec(text ?? "")?.[1] ?? 0)

/** Docker's CFS period, microseconds. */
export const cpuPeriod = 100_000

/** The CFS quota for a CPU count, microseconds per {@link cpuPeriod}; the kernel's minimum is 1 ms. */
export const cpuQuota = (cpus: number): number => Math.max(1000, Math.round(cpus * cpuPeriod))

const exists = (path: string) => Effect.promise(() => access(path).then(() => true, () => false))

const writable = (path: string) =>
  Effect.promise(() => access(path, constants.W_OK).then(() => undefined, (error: unknown) => describeCause(error)))

const readText = (path: string) => Effect.promise(() => readFile(path, "utf8").then((text) => text, () => undefined))

const notRoot = (): string => {
  const uid = getuid?.()
  return uid === undefined || uid === 0 ? "" : ` (running as uid ${uid}, not root)`
}

/**
 * What cgroup hierarchy the arena can use at `root`, or why it cannot. Never fails: without cgroups the arena says
 * so and runs unlimited. v2 is recognized by `cgroup.controllers` at the root; v1 by a `cpu` and a `memory`
 * controller directory under it (the hybrid layout, v1 controllers plus an empty `unified` v2, counts as v1).
 */
export const detectCgroupsAt = (root: string): Effect.Effect<CgroupSupport> =>
  Effect.gen(function*() {
    if (platform !== "linux") return { unavailable: `cgroups need Linux, this is ${platform}` }
    const controllers = yield* readText(join(root, "cgroup.controllers"))
    if (controllers !== undefined) {
      const available = controllers.trim().split(/\s+/)
      const missing = ["cpu", "memory"].filter((controller) => !available.includes(controller))
      if (missing.length > 0) {
        return {
          unavailable: `cgroup v2 at ${root} does not offer the ${missing.join(" and ")} controller${
            missing.length > 1 ? "s" : ""
          } (cgroup.controllers: "${controllers.trim()}")`
        }
      }
      const denied = yield* writable(join(root, "cgroup.subtree_control"))
      if (denied !== undefined) return { unavailable: `cgroup v2 at ${root} is not writable${notRoot()}: ${denied}` }
      const enabled = ((yield* readText(join(root, "cgroup.subtree_control"))) ?? "").trim().split(/\s+/)
      const isTrueRoot = !(yield* exists(join(root, "cgroup.type")))
      const procs = ((yield* readText(join(root, "cgroup.procs"))) ?? "").trim()
      if (!isTrueRoot && procs !== "" && !(enabled.includes("cpu") && enabled.includes("memory"))) {
        return {
          unavailable: `cgroup v2 at ${root} holds processes, so it cannot enable cpu and memory for child groups ` +
            "(the no-internal-processes rule); move them to a leaf group first"
        }
      }
      return { version: "v2", root }
    }
    const cpu = yield* exists(join(root, "cpu", "cpu.cfs_quota_us"))
    const memory = yield* exists(join(root, "memory", "memory.limit_in_bytes"))
    if (!cpu && !memory) return { unavailable: `no cgroup filesystem (v1 or v2) at ${root}` }
    if (!cpu) return { unavailable: `cgroup v1 at ${root} has no cpu controller with CFS quotas (${root}/cpu)` }
    if (!memory) return { unavailable: `cgroup v1 at ${root} has no memory controller (${root}/memory)` }
    for (const controller of ["cpu", "memory"]) {
      const denied = yield* writable(join(root, controller))
      if (denied !== undefined) {
        return { unavailable: `cgroup v1 ${controller} controller at ${root} is not writable${notRoot()}: ${denied}` }
      }
    }
    return { version: "v1", root }
  })

/** {@link detectCgroupsAt} on /sys/fs/cgroup. */
export const detectCgroups: Effect.Effect<CgroupSupport> = detectCgroupsAt("/sys/fs/cgroup")

const write = (path: string, value: string, service: string) =>
  Effect.tryPromise({
    try: () => writeFile(path, value),
    catch: (cause) =>
      new LimitsError({ service, message: `cannot write "${value.trim()}" to ${path}: ${describeCause(cause)}`, cause })
  })

const pidsIn = (directory: string) =>
  readText(join(directory, "cgroup.procs")).pipe(
    Effect.map((text) => (text ?? "").split("\n").filter((line) => line !== "").map(Number))
  )

/** Moves what is left in a group to `parent` (best effort), then removes it; rmdir is retried while exits settle. */
const removeGroup = (directory: string, parent: string) =>
  Effect.gen(function*() {
    for (const pid of yield* pidsIn(directory)) {
      // ESRCH: it exited meanwhile
      yield* Effect.promise(() => writeFile(join(parent, "cgroup.procs"), `${pid}\n`).catch(() => undefined))
    }
    yield* Effect.tryPromise(() => rmdir(directory)).pipe(
      Effect.retry({ times: 20, schedule: Schedule.spaced("50 millis") }),
      Effect.catch((error) =>
        pidsIn(directory).pipe(
          Effect.flatMap((remaining) =>
            Effect.logWarning(
              `cannot remove cgroup ${directory}: ${describeCause(error.cause)}; still inside: ${remaining.join(" ")}`
            )
          )
        )
      )
    )
  })

const makeDirectory = (directory: string, service: string) =>
  Effect.tryPromise({
    try: () => mkdir(directory),
    catch: (cause) =>
      new LimitsError({ service, message: `cannot create cgroup ${directory}: ${describeCause(cause)}` })
  })

const segment = /^[A-Za-z0-9_.-]+$/

/**
 * Creates the cgroup(s) applying one service's limit, removed when the scope closes (remaining processes are first
 * moved back to the hierarchy's root group).
 *
 * - v2: `<root>/arena-<runId>/<service>` with `cpu.max` = "<quota> 100000", `memory.max` and, when swap accounting
 *   exists, `memory.swap.max` = 0. The cpu and memory controllers are enabled in `<root>` and `arena-<runId>`.
 * - v1: `<root>/cpu/arena-<runId>-<service>` with `cpu.cfs_period_us` / `cpu.cfs_quota_us`, and
 *   `<root>/memory/arena-<runId>-<service>` with `memory.limit_in_bytes` and, when present,
 *   `memory.memsw.limit_in_bytes` (memory + swap) at the same value, so the group cannot swap.
 *
 * Memory a process allocated before {@link LimitGroup.add} stays charged to its old group (v2 never moves charges;
 * v1 only with `memory.move_charge_at_immigrate`), so add a process before it does its real work.
 */
export const makeLimitGroup = Effect.fn("Limits.makeLimitGroup")(
  function*(limit: ServiceLimit, runId: string): Effect.fn.Return<LimitGroup, LimitsError, Scope.Scope> {
    const service = limit.service
    for (const name of [runId, service]) {
      if (!segment.test(name) || name === "." || name === "..") {
        return yield* new LimitsError({ service, message: `"${name}" cannot name a cgroup` })
      }
    }
    const support = yield* detectCgroups
    if ("unavailable" in support) {
      return yield* new LimitsError({ service, message: `no cgroup limits: ${support.unavailable}` })
    }
    const quota = cpuQuota(limit.cpus)
    const memory = String(limit.memoryBytes)
    const summary = `${service}: ${limit.cpus} CPU (${quota}/${cpuPeriod} µs), ${
      Math.round(limit.memoryBytes / 1024 ** 2 * 100) / 100
    } MiB`
    const root = support.root

    if (support.version === "v2") {
      const base = join(root, `arena-${runId}`)
      const enable = (directory: string) =>
        Effect.gen(function*() {
          const enabled = ((yield* readText(join(directory, "cgroup.subtree_control"))) ?? "").trim().split(/\s+/)
          const wanted = ["cpu", "memory"].filter((controller) => !enabled.includes(controller))
          if (wanted.length > 0) {
            yield* write(join(directory, "cgroup.subtree_control"), wanted.map((c) => `+${c}`).join(" "), service)
          }
        })
      yield* enable(root)
      // shared by every service of the run: whichever group closes last removes it
      yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => mkdir(base, { recursive: true }),
          catch: (cause) => new LimitsError({ service, message: `cannot create ${base}: ${describeCause(cause)}` })
        }),
        () => Effect.promise(() => rmdir(base).catch(() => undefined))
      )
      yield* enable(base)
      const directory = join(base, service)
      yield* Effect.acquireRelease(makeDirectory(directory, service), () => removeGroup(directory, root))
      yield* write(join(directory, "cpu.max"), `${quota} ${cpuPeriod}\n`, service)
      yield* write(join(directory, "memory.max"), `${memory}\n`, service)
      if (yield* exists(join(directory, "memory.swap.max"))) {
        yield* write(join(directory, "memory.swap.max"), "0\n", service)
      }
      return {
        description: `${summary} (cgroup v2 ${directory})`,
        memoryBytes: limit.memoryBytes,
        directories: [directory],
        add: (pid: number) => write(join(directory, "cgroup.procs"), `${pid}\n`, service),
        usage: Effect.all({
          peakBytes: readNumber(join(directory, "memory.peak")),
          oomKills: Effect.map(readText(join(directory, "memory.events")), oomKillsOf)
        }),
        throttling: Effect.map(readText(join(directory, "cpu.stat")), cpuThrottlingOf)
      }
    }

    const name = `arena-${runId}-${service}`
    const cpuDirectory = join(root, "cpu", name)
    const memoryDirectory = join(root, "memory", name)
    for (const directory of [cpuDirectory, memoryDirectory]) {
      yield* Effect.acquireRelease(
        makeDirectory(directory, service),
        () => removeGroup(directory, dirname(directory))
      )
    }
    yield* write(join(cpuDirectory, "cpu.cfs_period_us"), `${cpuPeriod}\n`, service)
    yield* write(join(cpuDirectory, "cpu.cfs_quota_us"), `${quota}\n`, service)
    yield* write(join(memoryDirectory, "memory.limit_in_bytes"), `${memory}\n`, service)
    if (yield* exists(join(memoryDirectory, "memory.memsw.limit_in_bytes"))) {
      yield* write(join(memoryDirectory, "memory.memsw.limit_in_bytes"), `${memory}\n`, service)
    }
    return {
      description: `${summary} (cgroup v1 cpu,memory ${name})`,
      memoryBytes: limit.memoryBytes,
      directories: [cpuDirectory, memoryDirectory],
      add: (pid: number) =>
        Effect.gen(function*() {
          yield* write(join(cpuDirectory, "cgroup.procs"), `${pid}\n`, service)
          yield* write(join(memoryDirectory, "cgroup.procs"), `${pid}\n`, service)
        }),
      usage: Effect.all({
        peakBytes: readNumber(join(memoryDirectory, "memory.max_usage_in_bytes")),
        oomKills: Effect.map(readText(join(memoryDirectory, "memory.oom_control")), oomKillsOf)
      }),
      throttling: Effect.map(readText(join(cpuDirectory, "cpu.stat")), cpuThrottlingOf)
    }
  }
)

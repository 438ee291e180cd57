/**
 * Resident memory and CPU time of the arena's processes, read from /proc.
 *
 * RSS is `VmRSS` of /proc/<pid>/status. CPU is utime + stime of /proc/<pid>/stat, in clock ticks of USER_HZ, which is
 * 100 per second on Linux (`getconf CLK_TCK` says 100 here, and the value is fixed in the kernel ABI on x86 and arm).
 * Time children spent after they were reaped (cutime, cstime) is not counted: a named entry sums its live process
 * tree instead, so a child's last interval before it exits is lost.
 */
import { Clock, type Duration, Effect, Option, Schedule, type Scope, Semaphore } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import type { ProcessSample } from "./Model.ts"

/** USER_HZ: the unit of utime and stime. */
export const clockTicksPerSecond = 100

export interface ProcessReading {
  readonly rssBytes: number
  /** The anonymous part of the RSS (heap, stacks): what a memory limit cannot reclaim, unlike file pages. */
  readonly anonBytes: number
  /** The largest RSS the process has had (VmHWM). */
  readonly peakRssBytes: number
  /** utime + stime, clock ticks. */
  readonly cpuTicks: number
  /** stime alone: the part of `cpuTicks` spent in the kernel on the process's behalf (system calls, its sockets). */
  readonly systemTicks: number
}

interface Stat {
  readonly state: string
  readonly ppid: number
  readonly cpuTicks: number
  readonly systemTicks: number
}

// procfs is read synchronously: it never waits on a disk, and a scan of every process takes about 1 ms this way
// against 20 ms through promises and the thread pool, which the sampler would steal from the processes it measures.
const readText = (path: string): Effect.Effect<string | undefined> =>
  Effect.try(() => readFileSync(path, "utf8")).pipe(Effect.orElseSucceed(() => undefined))

const listDirectory = (path: string): Effect.Effect<ReadonlyArray<string>> =>
  Effect.try(() => readdirSync(path)).pipe(Effect.orElseSucceed(() => []))

// "pid (comm) state ppid …": comm may hold spaces and parentheses, so fields are counted after the last ")"
const parseStat = (text: string): Stat | undefined => {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
  const ppid = Number(fields[1])
  const systemTicks = Number(fields[12])
  const cpuTicks = Number(fields[11]) + systemTicks
  return fields.length > 12 && Number.isFinite(ppid) && Number.isFinite(cpuTicks)
    ? { state: fields[0], ppid, cpuTicks, systemTicks }
    : undefined
}

const readStat = (pid: number) =>
  Effect.map(readText(`/proc/${pid}/stat`), (text) => text === undefined ? undefined : parseStat(text))

/** The process's RSS and CPU time; none when it does not exist (or is a zombie, which has exited already). */
export const readProcess = (pid: number): Effect.Effect<Option.Option<ProcessReading>> =>
  Effect.gen(function*() {
    const stat = yield* readStat(pid)
    const status = yield* readText(`/proc/${pid}/status`)
    if (stat === undefined || status === undefined || stat.state === "Z" || stat.state === "X") {
      return Option.none()
    }
    const kB = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? 0) * 1024
    return Option.some({
      rssBytes: kB("VmRSS"),
      anonBytes: kB("RssAnon"),
      peakRssBytes: kB("VmHWM"),
      cpuTicks: stat.cpuTicks,
      systemTicks: stat.systemTicks
    })
  })

/** The children the kernel lists for each thread of `pid`; undefined without CONFIG_PROC_CHILDREN. */
const listedChildren = (pid: number) =>
  Effect.gen(function*() {
    const tasks = yield* listDirectory(`/proc/${pid}/task`)
    const lists = yield* Effect.forEach(tasks, (tid) => readText(`/proc/${pid}/task/${tid}/children`))
    if (lists.some((list) => list === undefined)) return undefined
    return lists.flatMap((list) => (list ?? "").split(" ").filter((word) => word !== "").map(Number))
  })

/** Children per parent pid, from the ppid of every process. */
const scanParents = Effect.gen(function*() {
  const children = new Map<number, Array<number>>()
  for (const name of yield* listDirectory("/proc")) {
    if (!/^\d+$/.test(name)) continue
    const stat = yield* readStat(Number(name))
    if (stat === undefined) continue
    const siblings = children.get(stat.ppid)
    if (siblings === undefined) children.set(stat.ppid, [Number(name)])
    else siblings.push(Number(name))
  }
  return children as ReadonlyMap<number, ReadonlyArray<number>>
})

type ChildrenOf = (pid: number) => Effect.Effect<ReadonlyArray<number>>

/**
 * A children lookup for one moment: the kernel's lists where it has them (CONFIG_PROC_CHILDREN), else one scan of
 * the ppid of every /proc/<n>/stat, made at the first need and reused.
 */
const childrenLookup = Effect.sync((): ChildrenOf => {
  let scan: ReadonlyMap<number, ReadonlyArray<number>> | undefined
  return (pid) =>
    Effect.gen(function*() {
      if (scan === undefined) {
        const listed = yield* listedChildren(pid)
        if (listed !== undefined) return listed
        scan = yield* scanParents
      }
      return scan.get(pid) ?? []
    })
})

const descendantsWith = (pid: number, childrenOf: ChildrenOf) =>
  Effect.gen(function*() {
    const found = new Set<number>()
    let frontier: ReadonlyArray<number> = [pid]
    while (frontier.length > 0) {
      const next: Array<number> = []
      for (const parent of frontier) {
        for (const child of yield* childrenOf(parent)) {
          if (child !== pid && !found.has(child)) {
            found.add(child)
            next.push(child)
          }
        }
      }
      frontier = next
    }
    return Array.from(found)
  })

/**
 * Every process below `pid` (children, grandchildren, …), not `pid` itself, read from
 * /proc/<pid>/task/<tid>/children where the kernel has it, else from the ppid of every process.
 */
export const descendants = (pid: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.flatMap(childrenLookup, (childrenOf) => descendantsWith(pid, childrenOf))

/** `pid` and its descendants. */
export const processTree = (pid: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.map(descendants(pid), (below) => [pid, ...below])

export interface Sampler {
  /**
   * Samples `pid` and its process tree under `name` from now on (a name may gather several pids). The first sample
   * of a name measures CPU from this call.
   */
  readonly track: (name: string, pid: number) => Effect.Effect<void>
  /** Takes a sample of every tracked name now, besides the periodic ones. */
  readonly sampleNow: Effect.Effect<void>
  /** Every sample so far, in time order. */
  readonly samples: Effect.Effect<ReadonlyArray<ProcessSample>>
  /** The highest RSS sampled per name, bytes. */
  readonly peakRss: Effect.Effect<ReadonlyMap<string, number>>
}

interface Entry {
  readonly roots: Set<number>
  /** CPU ticks per pid of the tree at the last reading. */
  ticks: Map<number, number>
  /** Clock millis of the last reading. */
  at: number
}

interface TreeReading {
  readonly rssBytes: number
  readonly anonBytes: number
  readonly ticks: Map<number, number>
}

const readTrees = Effect.fnUntraced(function*(roots: Iterable<number>, childrenOf: ChildrenOf) {
  const pids = new Set<number>()
  for (const root of roots) {
    pids.add(root)
    for (const pid of yield* descendantsWith(root, childrenOf)) pids.add(pid)
  }
  let rssBytes = 0
  let anonBytes = 0
  const ticks = new Map<number, number>()
  for (const pid of pids) {
    const reading = yield* readProcess(pid)
    if (Option.isSome(reading)) {
      rssBytes += reading.value.rssBytes
      anonBytes += reading.value.anonBytes
      ticks.set(pid, reading.value.cpuTicks)
    }
  }
  return { rssBytes, anonBytes, ticks } satisfies TreeReading
})

/** CPU time comes in 10 ms ticks, so a shorter window between two readings of a name is noise: it is skipped. */
const minimumWindowMillis = 100

export const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits

/**
 * Samples the tracked processes every `interval` (the first right away) until the scope closes. Each sample is one
 * name's tree: rssMiB the sum of the RSS of its live processes, cpuPercent the CPU time they used since the previous
 * sample over the wall time elapsed, as a percentage of one core (so 150 means one and a half cores). A process
 * born since the previous sample counts all its CPU time. A name whose processes have all exited yields no sample,
 * nor does one read less than 100 ms before.
 * `t` is seconds since `startedAt` (epoch millis) by the Effect `Clock`.
 */
export const makeSampler = Effect.fn("ProcessSampler.make")(
  function*(
    options: { readonly interval: Duration.Input; readonly startedAt: number }
  ): Effect.fn.Return<Sampler, never, Scope.Scope> {
    const lock = yield* Semaphore.make(1)
    const entries = new Map<string, Entry>()
    const samples: Array<ProcessSample> = []
    const peaks = new Map<string, number>()

    const track = (name: string, pid: number) =>
      Effect.gen(function*() {
        const reading = yield* readTrees([pid], yield* childrenLookup)
        const now = yield* Clock.currentTimeMillis
        const entry = entries.get(name)
        if (entry === undefined) {
          entries.set(name, { roots: new Set([pid]), ticks: reading.ticks, at: now })
          return
        }
        entry.roots.add(pid)
        for (const [child, ticks] of reading.ticks) {
          if (!entry.ticks.has(child)) entry.ticks.set(child, ticks)
        }
      }).pipe(Semaphore.withPermit(lock))

    const sampleNow = Effect.gen(function*() {
      const childrenOf = yield* childrenLookup
      for (const [name, entry] of entries) {
        if ((yield* Clock.currentTimeMillis) - entry.at < minimumWindowMillis) continue
        const reading = yield* readTrees(entry.roots, childrenOf)
        const now = yield* Clock.currentTimeMillis
        if (reading.ticks.size === 0) continue
        let used = 0
        for (const [pid, ticks] of reading.ticks) used += Math.max(0, ticks - (entry.ticks.get(pid) ?? 0))
        const seconds = (now - entry.at) / 1000
        entry.ticks = reading.ticks
        entry.at = now
        peaks.set(name, Math.max(peaks.get(name) ?? 0, reading.rssBytes))
        samples.push({
          t: round((now - options.startedAt) / 1000, 3),
          process: name,
          rssMiB: round(reading.rssBytes / 1024 ** 2, 2),
          anonMiB: round(reading.anonBytes / 1024 ** 2, 2),
          cpuPercent: seconds > 0 ? round(used / clockTicksPerSecond / seconds * 100, 1) : 0
        })
      }
    }).pipe(Semaphore.withPermit(lock))

    yield* sampleNow.pipe(Effect.repeat(Schedule.spaced(options.interval)), Effect.forkScoped)

    return {
      track,
      sampleNow,
      samples: Effect.sync(() => samples.slice()),
      peakRss: Effect.sync(() => new Map(peaks))
    }
  }
)

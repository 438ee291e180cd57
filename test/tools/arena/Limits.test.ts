import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Result, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { execPath, pid } from "node:process"
import {
  type CgroupSupport,
  cpuQuota,
  cpuThrottlingOf,
  detectCgroups,
  detectCgroupsAt,
  LimitsError,
  limitsOfCompose,
  makeLimitGroup,
  parseCpus,
  parseMemory,
  readComposeLimits,
  totalOf
} from "../../../tools/arena/Limits.ts"
import { readProcess } from "../../../tools/arena/ProcessSampler.ts"

const fixture = join(import.meta.dirname, "fixtures", "docker-compose.yaml")
const MB = 1024 ** 2

const unavailableOf = (support: CgroupSupport): string => "unavailable" in support ? support.unavailable : ""

describe("compose limits", () => {
  it.effect("reads every service's limits from the fixture, string and number forms alike", () =>
    Effect.gen(function*() {
      const limits = yield* readComposeLimits(fixture)
      assert.deepStrictEqual(limits, [
        { service: "app1", cpus: 0.55, memoryBytes: 110 * MB },
        { service: "app2", cpus: 0.55, memoryBytes: 110 * MB },
        { service: "nginx", cpus: 0.15, memoryBytes: 30 * MB },
        { service: "postgres", cpus: 0.25, memoryBytes: 100 * MB }
      ])
      assert.deepStrictEqual(totalOf(limits), { cpus: 1.5, memoryBytes: 350 * MB })
    }))

  it("fails with a LimitsError naming the service whose memory has a bad unit", () => {
    const document = {
      services: {
        app1: { deploy: { resources: { limits: { cpus: "0.5", memory: "100MB" } } } },
        nginx: { deploy: { resources: { limits: { cpus: "0.5", memory: "100XB" } } } }
      }
    }
    const result = limitsOfCompose(document)
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) {
      assert.instanceOf(result.failure, LimitsError)
      assert.strictEqual(result.failure.service, "nginx")
      assert.include(result.failure.message, "nginx")
      assert.include(result.failure.message, "100XB")
    }
  })

  it.effect("fails on a missing field, a bad cpus, a missing file and invalid YAML", () =>
    Effect.gen(function*() {
      const limitsOf = (limits: unknown) => limitsOfCompose({ services: { db: { deploy: { resources: { limits } } } } })
      for (const limits of [{ cpus: 1 }, { memory: "1GB" }, { cpus: "half", memory: "1GB" }, { cpus: 0, memory: 1 }]) {
        const result = limitsOf(limits)
        assert.isTrue(Result.isFailure(result), JSON.stringify(limits))
        if (Result.isFailure(result)) assert.strictEqual(result.failure.service, "db")
      }
      assert.isTrue(Result.isFailure(limitsOfCompose({ version: "3" })))
      assert.deepStrictEqual(limitsOfCompose({ services: { db: { image: "postgres" } } }), Result.succeed([]))

      const missing = yield* Effect.flip(readComposeLimits(join(import.meta.dirname, "fixtures", "nope.yaml")))
      assert.include(missing.message, "nope.yaml")
      const directory = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "limits-")))
      yield* Effect.addFinalizer(() => Effect.promise(() => rm(directory, { recursive: true, force: true })))
      yield* Effect.promise(() => writeFile(join(directory, "bad.yaml"), "services: [unclosed\n"))
      const invalid = yield* Effect.flip(readComposeLimits(join(directory, "bad.yaml")))
      assert.include(invalid.message, "not valid YAML")
    }))

  it("memory units are Docker's: binary multiples, case-insensitive, optional i/b", () => {
    const cases: ReadonlyArray<readonly [unknown, number]> = [
      ["110MB", 110 * MB],
      ["110M", 110 * MB],
      ["110mb", 110 * MB],
      ["110 MB", 110 * MB],
      ["512MiB", 512 * MB],
      ["0.5GB", 512 * MB],
      ["1g", 1024 * MB],
      ["64k", 64 * 1024],
      ["64KB", 64 * 1024],
      ["4096", 4096],
      ["4096b", 4096],
      [" 1.5m ", 1.5 * MB],
      ["1.0000001k", 1024],
      [4096, 4096]
    ]
    for (const [input, bytes] of cases) assert.deepStrictEqual(parseMemory(input), Result.succeed(bytes), `${input}`)
    for (const input of ["", "MB", "110XB", "110 M B", "-1MB", "1e3", "110i", "0MB", "0.0001b", 1.5, -1, null]) {
      assert.isTrue(Result.isFailure(parseMemory(input)), `${input} is not a size`)
    }
  })

  it("reads the throttling counters of a v1 and a v2 cpu.stat, and nothing from anything else", () => {
    assert.deepStrictEqual(
      cpuThrottlingOf("nr_periods 3033\nnr_throttled 28\nthrottled_time 1320215998\n"),
      { periods: 3033, throttledPeriods: 28, throttledMs: 1320.215998 }
    )
    assert.deepStrictEqual(
      cpuThrottlingOf(
        "usage_usec 8100\nuser_usec 6000\nsystem_usec 2100\nnr_periods 40\nnr_throttled 3\nthrottled_usec 91500\n"
      ),
      { periods: 40, throttledPeriods: 3, throttledMs: 91.5 }
    )
    assert.isUndefined(cpuThrottlingOf(undefined))
    assert.isUndefined(cpuThrottlingOf("nr_periods 4\nnr_throttled 1\n"), "no throttled time")
    assert.isUndefined(cpuThrottlingOf("usage_usec 8100\nthrottled_usec 5\n"), "no period counts")
  })

  it("cpus are a positive number or numeric string, turned into a CFS quota of a 100 ms period", () => {
    assert.deepStrictEqual(parseCpus("0.55"), Result.succeed(0.55))
    assert.deepStrictEqual(parseCpus(0.55), Result.succeed(0.55))
    assert.deepStrictEqual(parseCpus("2"), Result.succeed(2))
    for (const input of ["", "0", 0, -1, "1.5cpu", Number.NaN, Number.POSITIVE_INFINITY, true]) {
      assert.isTrue(Result.isFailure(parseCpus(input)), `${String(input)} is not a cpu count`)
    }
    assert.strictEqual(cpuQuota(0.55), 55_000)
    assert.strictEqual(cpuQuota(1.5), 150_000)
    assert.strictEqual(cpuQuota(0.001), 1000, "the kernel's minimum quota")
  })
})

describe("cgroup detection", () => {
  const fakeRoot = (files: Readonly<Record<string, string>>) =>
    Effect.acquireRelease(
      Effect.gen(function*() {
        const root = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "cgroup-")))
        for (const [path, text] of Object.entries(files)) {
          yield* Effect.promise(() => mkdir(dirname(join(root, path)), { recursive: true }))
          yield* Effect.promise(() => writeFile(join(root, path), text))
        }
        return root
      }),
      (root) => Effect.promise(() => rm(root, { recursive: true, force: true }))
    )

  it.live("says why it cannot limit instead of failing", () =>
    Effect.gen(function*() {
      const empty = yield* detectCgroupsAt(join(tmpdir(), "no-such-cgroup-root"))
      assert.include(unavailableOf(empty), "no cgroup filesystem")

      const noMemory = yield* detectCgroupsAt(yield* fakeRoot({ "cgroup.controllers": "cpuset cpu io pids\n" }))
      assert.include(unavailableOf(noMemory), "memory controller")

      const v1NoMemory = yield* detectCgroupsAt(yield* fakeRoot({ "cpu/cpu.cfs_quota_us": "-1\n" }))
      assert.include(unavailableOf(v1NoMemory), "no memory controller")

      const v2 = yield* fakeRoot({
        "cgroup.controllers": "cpu memory\n",
        "cgroup.subtree_control": "",
        "cgroup.procs": ""
      })
      assert.deepStrictEqual(yield* detectCgroupsAt(v2), { version: "v2", root: v2 })

      const nested = yield* fakeRoot({
        "cgroup.controllers": "cpu memory\n",
        "cgroup.subtree_control": "",
        "cgroup.procs": "1\n",
        "cgroup.type": "domain\n"
      })
      assert.include(unavailableOf(yield* detectCgroupsAt(nested)), "holds processes")
    }))

  it.effect("rejects a run id or service that cannot name a directory", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(makeLimitGroup({ service: "app1", cpus: 1, memoryBytes: MB }, "../etc"))
      assert.include(error.message, "../etc")
      const service = yield* Effect.flip(makeLimitGroup({ service: "a/b", cpus: 1, memoryBytes: MB }, "run"))
      assert.strictEqual(service.service, "a/b")
    }))
})

// The real cgroup tests need root and a writable hierarchy; elsewhere they are skipped with the reason in their title.
const support = await Effect.runPromise(detectCgroups)
const reason = "unavailable" in support ? support.unavailable : undefined

interface Child {
  readonly child: ChildProcess
  readonly pid: number
  readonly exit: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const start = (command: string, args: ReadonlyArray<string>, stdin: "ignore" | "pipe" = "ignore") =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const child = spawn(command, args, { stdio: [stdin, "ignore", "ignore"] })
      const exit = new Promise<Child["exit"] extends Promise<infer A> ? A : never>((resolve) =>
        child.on("exit", (code, signal) => resolve({ code, signal }))
      )
      return { child, pid: child.pid ?? -1, exit }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

const read = (path: string) => Effect.promise(() => readFile(path, "utf8"))
const runId = `test-${pid}`

describe.skipIf(reason !== undefined)(
  `cgroup limits (${reason ?? `cgroup ${"version" in support && support.version}`})`,
  () => {
    it.live("creates a group, holds the limits and the pid, and removes everything when the scope closes", () =>
      Effect.gen(function*() {
        const sleeper = yield* start("sleep", ["30"])
        const scope = yield* Scope.make()
        const group = yield* makeLimitGroup({ service: "app1", cpus: 0.25, memoryBytes: 48 * MB }, runId).pipe(
          Scope.provide(scope)
        )
        yield* group.add(sleeper.pid)
        assert.include(group.description, "app1")
        for (const directory of group.directories) {
          const pids = (yield* read(join(directory, "cgroup.procs"))).trim().split("\n")
          assert.include(pids, String(sleeper.pid), directory)
        }
        if ("version" in support && support.version === "v1") {
          const [cpu, memory] = group.directories
          assert.strictEqual((yield* read(join(cpu, "cpu.cfs_period_us"))).trim(), "100000")
          assert.strictEqual((yield* read(join(cpu, "cpu.cfs_quota_us"))).trim(), "25000")
          assert.strictEqual((yield* read(join(memory, "memory.limit_in_bytes"))).trim(), String(48 * MB))
          if (existsSync(join(memory, "memory.memsw.limit_in_bytes"))) {
            assert.strictEqual((yield* read(join(memory, "memory.memsw.limit_in_bytes"))).trim(), String(48 * MB))
          }
        } else {
          const [directory] = group.directories
          assert.strictEqual((yield* read(join(directory, "cpu.max"))).trim(), "25000 100000")
          assert.strictEqual((yield* read(join(directory, "memory.max"))).trim(), String(48 * MB))
        }

        yield* Scope.close(scope, Exit.void)
        for (const directory of group.directories) assert.isFalse(existsSync(directory), `${directory} is removed`)
        assert.isTrue(Option.isSome(yield* readProcess(sleeper.pid)), "the process itself lives on, outside the group")
        const cgroups = yield* read(`/proc/${sleeper.pid}/cgroup`)
        assert.notInclude(cgroups, "arena-")
      }))

    it.live("several processes share a group, and the cpu quota throttles a busy loop", () =>
      Effect.gen(function*() {
        const group = yield* makeLimitGroup({ service: "nginx", cpus: 0.2, memoryBytes: 256 * MB }, runId)
        const busy = yield* start(execPath, ["-e", "for(;;){}"])
        const idle = yield* start("sleep", ["30"])
        yield* group.add(busy.pid)
        yield* group.add(idle.pid)
        const ticks = Effect.map(readProcess(busy.pid), Option.match({ onNone: () => 0, onSome: (r) => r.cpuTicks }))
        const before = yield* ticks
        yield* Effect.sleep("1500 millis")
        const percent = ((yield* ticks) - before) / 1.5
        assert.isBelow(percent, 35, `0.2 CPU allowed, used ${percent}%`)
        assert.isAbove(percent, 5, `it still runs, at ${percent}%`)
        const throttling = yield* group.throttling
        assert.isDefined(throttling, "cpu.stat is read")
        assert.isAbove(throttling?.throttledPeriods ?? 0, 0, "the kernel throttled the group")
        assert.isAtLeast(throttling?.periods ?? 0, throttling?.throttledPeriods ?? 0)
        assert.isAbove(throttling?.throttledMs ?? 0, 0, "and counted how long it was stopped")
      }))

    // Reliable here: the hog is moved in before it allocates, fills 8 MiB buffers (touching every page) and is killed
    // within ~100 ms of crossing 64 MiB; memory.memsw (or memory.swap.max) keeps it from swapping instead.
    it.live("the OOM killer ends a process that allocates beyond a 64 MB limit", () =>
      Effect.gen(function*() {
        const group = yield* makeLimitGroup({ service: "postgres", cpus: 1, memoryBytes: 64 * MB }, runId)
        const hog = yield* start(execPath, [
          "-e",
          "process.stdin.once('data', () => { const keep = []; for (;;) keep.push(Buffer.alloc(8 << 20, 1)) })"
        ], "pipe")
        yield* group.add(hog.pid)
        hog.child.stdin?.write("go\n")
        const exit = yield* Effect.promise(() => hog.exit).pipe(Effect.timeout("10 seconds"))
        assert.strictEqual(exit.signal, "SIGKILL", `exit ${JSON.stringify(exit)}`)
        const memoryDirectory = group.directories[group.directories.length - 1]
        const events = "version" in support && support.version === "v1"
          ? yield* read(join(memoryDirectory, "memory.oom_control"))
          : yield* read(join(memoryDirectory, "memory.events"))
        assert.isAbove(Number(/oom_kill (\d+)/.exec(events)?.[1] ?? 0), 0, events)
      }))
  }
)

import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Option } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { readFile } from "node:fs/promises"
import { execPath, getuid, kill, pid as ownPid } from "node:process"
import type { ProcessSample } from "../../../tools/arena/Model.ts"
import { descendants, makeSampler, processTree, readProcess } from "../../../tools/arena/ProcessSampler.ts"

/** Starts a process in its own process group, all of which is killed when the scope closes. */
const start = (command: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => spawn(command, args, { stdio: "ignore", detached: true })),
    (child: ChildProcess) =>
      Effect.sync(() => {
        if (child.pid === undefined) return
        try {
          kill(-child.pid, "SIGKILL")
        } catch {
          // the group is gone already
        }
      })
  ).pipe(Effect.map((child) => child.pid ?? -1))

/**
 * Busy loops run at nice -15 where allowed (root): on a small machine shared with other work (a tsc, the other test
 * files) a loop at the default priority can get well under half a core, which says nothing about the sampler.
 * Without the privilege nice warns and runs the command at the default priority.
 */
const urgent = ["-n", getuid?.() === 0 ? "-15" : "0"]

const commandLineOf = (pid: number) =>
  Effect.promise(() => readFile(`/proc/${pid}/cmdline`, "utf8").then((text) => text.split("\0").join(" "), () => ""))

describe("ProcessSampler", () => {
  it.live("reads the RSS and CPU time of a process, and none for one that does not exist", () =>
    Effect.gen(function*() {
      const own = yield* readProcess(ownPid)
      assert.isTrue(Option.isSome(own))
      if (Option.isSome(own)) {
        assert.isAbove(own.value.rssBytes, 1024 * 1024)
        assert.isAbove(own.value.cpuTicks, 0)
      }
      assert.isTrue(Option.isNone(yield* readProcess(2 ** 22 + 1)), "beyond pid_max")
    }))

  it.live("tells the kernel's part of the CPU time: most of it for a process reading /dev/zero, little in a loop", () =>
    Effect.gen(function*() {
      const zeroReader = yield* start("nice", [
        ...urgent,
        execPath,
        "-e",
        "const fs = require('fs'), b = Buffer.alloc(1 << 20), fd = fs.openSync('/dev/zero'); for (;;) fs.readSync(fd, b)"
      ])
      const loop = yield* start("nice", [...urgent, execPath, "-e", "for(;;){}"])
      yield* Effect.sleep("1500 millis")
      const readingOf = (pid: number) =>
        Effect.map(readProcess(pid), Option.getOrThrowWith(() => new Error(`process ${pid} is gone`)))
      const [kernelBound, userBound] = [yield* readingOf(zeroReader), yield* readingOf(loop)]
      for (const reading of [kernelBound, userBound]) {
        assert.isAtLeast(reading.systemTicks, 0, JSON.stringify(reading))
        assert.isAtMost(reading.systemTicks, reading.cpuTicks, JSON.stringify(reading))
      }
      // of the 150 ticks a core has in 1.5 s, each had at least a fifth after starting up
      assert.isAbove(kernelBound.cpuTicks, 30, JSON.stringify(kernelBound))
      assert.isAbove(kernelBound.systemTicks, kernelBound.cpuTicks / 2, JSON.stringify(kernelBound))
      assert.isAbove(userBound.cpuTicks, 30, JSON.stringify(userBound))
      assert.isBelow(userBound.systemTicks, userBound.cpuTicks / 4, JSON.stringify(userBound))
    }))

  it.live("a busy process shows most of a core, an idle one next to nothing; an exited one is skipped", () =>
    Effect.gen(function*() {
      const startedAt = yield* Clock.currentTimeMillis
      const busy = yield* start("nice", [...urgent, execPath, "-e", "for(;;){}"])
      const idle = yield* start(execPath, ["-e", "setInterval(() => {}, 1000)"])
      const brief = yield* start("sleep", ["0.6"])
      const sampler = yield* makeSampler({ interval: "250 millis", startedAt })
      yield* sampler.track("busy", busy)
      yield* sampler.track("idle", idle)
      yield* sampler.track("brief", brief)
      yield* Effect.sleep("1500 millis")
      const samples = yield* sampler.samples

      const of = (name: string) => samples.filter((sample) => sample.process === name)
      const [busySamples, idleSamples, briefSamples] = [of("busy"), of("idle"), of("brief")]
      assert.isAtLeast(busySamples.length, 4, JSON.stringify(busySamples))
      // the first samples are left out: the busy loop shares the cores with node starting up
      const later = (sample: ProcessSample) => sample.t >= 0.75
      assert.isAtLeast(busySamples.filter(later).length, 2)
      for (const sample of busySamples.filter(later)) assert.isAbove(sample.cpuPercent, 30, JSON.stringify(sample))
      for (const sample of idleSamples.filter(later)) assert.isBelow(sample.cpuPercent, 20, JSON.stringify(sample))
      for (const sample of [...busySamples, ...idleSamples]) assert.isAbove(sample.rssMiB, 0)
      assert.isAtLeast(idleSamples.length, 4)

      assert.isAtLeast(briefSamples.length, 1, "sampled while it ran")
      assert.isBelow(briefSamples.length, busySamples.length, "skipped once it exited")
      assert.isTrue(briefSamples.every((sample) => sample.t < 1), JSON.stringify(briefSamples))

      const times = busySamples.map((sample) => sample.t)
      assert.deepStrictEqual(times, [...times].sort((a, b) => a - b))
      assert.isTrue(times[0] >= 0 && times[times.length - 1] < 3, JSON.stringify(times))

      const peaks = yield* sampler.peakRss
      assert.isAbove(peaks.get("busy") ?? 0, 1024 * 1024)
      assert.strictEqual(
        Math.round((peaks.get("idle") ?? 0) / 1024 ** 2 * 100) / 100,
        Math.max(...idleSamples.map((sample) => sample.rssMiB))
      )
    }))

  it.live("finds the descendants of a shell, and a tracked name sums its whole tree", () =>
    Effect.gen(function*() {
      const shell = yield* start("nice", [...urgent, "sh", "-c", `sleep 30 & "${execPath}" -e "for(;;){}" & wait`])
      yield* Effect.sleep("300 millis")
      const below = yield* descendants(shell)
      const commands = yield* Effect.forEach(below, commandLineOf)
      assert.isTrue(commands.some((command) => command.startsWith("sleep 30")), JSON.stringify(commands))
      assert.isTrue(commands.some((command) => command.includes("for(;;){}")), JSON.stringify(commands))
      assert.notInclude(below, shell)
      assert.deepStrictEqual(yield* processTree(shell), [shell, ...below])

      const startedAt = yield* Clock.currentTimeMillis
      const sampler = yield* makeSampler({ interval: "250 millis", startedAt })
      yield* sampler.track("tree", shell)
      yield* Effect.sleep("800 millis")
      const samples = yield* sampler.samples
      assert.isAtLeast(samples.length, 2)
      // well above an idle tree (~0 %) even on a loaded machine, where the busy loop gets only part of a core
      for (const sample of samples) assert.isAbove(sample.cpuPercent, 20, "the busy grandchild counts")
      const shellAlone = yield* readProcess(shell)
      const rssOfShell = Option.isSome(shellAlone) ? shellAlone.value.rssBytes / 1024 ** 2 : 0
      assert.isAbove(samples[samples.length - 1].rssMiB, rssOfShell + 10, "node's RSS is included")
    }))
})

import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { figuresOf, groupsOf, renderComparison, type RunFigures } from "../../../tools/arena/Comparison.ts"
import { median } from "../../../tools/arena/LatencyRecorder.ts"
import type { ArenaReport, StageLatency } from "../../../tools/arena/Model.ts"
import { sampleReport } from "./fixtures/sampleReport.ts"

const stageP99 = (report: ArenaReport, at: number) => report.latency.stages.find((stage) => stage.at === at)?.p99

/** The sample run with another scorecard p99, lag and inconsistency count, and its 150-s stage's p99 set. */
const variant = (changes: { p99: number; lag?: number; inconsistencies?: number; stage150?: number }): ArenaReport => ({
  ...sampleReport,
  scorecard: {
    ...sampleReport.scorecard,
    p99: changes.p99,
    lag: changes.lag ?? 0,
    inconsistencies: changes.inconsistencies ?? 0
  },
  latency: {
    ...sampleReport.latency,
    stages: sampleReport.latency.stages.map((stage): StageLatency =>
      stage.at === 150 && changes.stage150 !== undefined ? { ...stage, p99: changes.stage150 } : stage
    )
  }
})

const run = (label: string, report: ArenaReport, source = label) =>
  figuresOf({ label, source, report }, { stage: 150, against: 120 })

describe("figuresOf", () => {
  it("reads a run's money, latency and default share from its scorecard", () => {
    const { scorecard } = sampleReport
    const figures = figuresOf({ label: "on", source: "on-1", report: sampleReport })
    assert.strictEqual(figures.score, scorecard.score)
    assert.strictEqual(figures.net, scorecard.net)
    assert.strictEqual(figures.p99, scorecard.p99)
    assert.strictEqual(
      figures.defaultShare,
      scorecard.default.payments / (scorecard.default.payments + scorecard.fallback.payments)
    )
    assert.isTrue(figures.forwards)
    assert.isUndefined(figures.stageRatio)
  })

  it("takes the peak RSS of the instances only, not of nginx, the database or the simulators", () => {
    const processes = [
      { t: 1, process: "api1", rssMiB: 90, cpuPercent: 1 },
      { t: 2, process: "api1", rssMiB: 104, cpuPercent: 1 },
      { t: 1, process: "api2", rssMiB: 101, cpuPercent: 1 },
      { t: 1, process: "app3", rssMiB: 106, cpuPercent: 1 },
      { t: 1, process: "postgres", rssMiB: 300, cpuPercent: 1 },
      { t: 1, process: "nginx", rssMiB: 200, cpuPercent: 1 }
    ]
    const report = { ...sampleReport, series: { ...sampleReport.series, processes } }
    // app3: an instance the arena started but did not scrape, as with the null backend
    assert.strictEqual(figuresOf({ label: "on", source: "on-1", report }).peakRssMiB, 106)
    const scraped = {
      ...report,
      series: { ...report.series, processes: processes.filter((p) => p.process !== "app3") }
    }
    assert.strictEqual(figuresOf({ label: "on", source: "on-1", report: scraped }).peakRssMiB, 104)
    const none = { ...sampleReport, series: { ...sampleReport.series, processes: [] } }
    assert.isUndefined(figuresOf({ label: "on", source: "on-1", report: none }).peakRssMiB)
  })

  it("adds the instances' throttled periods, and has none to add without limits", () => {
    const cpu = (throttledPeriods: number) => ({ periods: 3000, throttledPeriods, throttledMs: 10 })
    const cgroups = [
      { service: "app1", limitMiB: 130, peakMiB: 60, oomKills: 0, cpu: cpu(3) },
      { service: "app2", limitMiB: 130, peakMiB: 58, oomKills: 0, cpu: cpu(5) },
      { service: "nginx", limitMiB: 20, peakMiB: 9, oomKills: 0, cpu: cpu(40) }
    ]
    const limited = { ...sampleReport, meta: { ...sampleReport.meta, cgroups } }
    assert.strictEqual(figuresOf({ label: "on", source: "on-1", report: limited }).throttledPeriods, 8)
    assert.isUndefined(figuresOf({ label: "on", source: "on-1", report: sampleReport }).throttledPeriods)
  })

  it("divides one stage's p99 by another's of the same run, and gives no ratio for a stage the run lacks", () => {
    const figures = run("on", sampleReport)
    const [stage, against] = [stageP99(sampleReport, 150), stageP99(sampleReport, 120)]
    assert.isDefined(stage)
    assert.isDefined(against)
    assert.strictEqual(figures.stageRatio, stage! / against!)
    const missing = figuresOf({ label: "on", source: "on-1", report: sampleReport }, { stage: 151, against: 120 })
    assert.isUndefined(missing.stageRatio)
  })
})

describe("median", () => {
  it("is the middle value, or the mean of the two middle ones", () => {
    assert.strictEqual(median([3, 1, 2]), 2)
    assert.strictEqual(median([4, 1, 3, 2]), 2.5)
    assert.strictEqual(median([7]), 7)
  })
})

describe("groupsOf", () => {
  it("groups runs by label in the order labels first appear, with each figure's median and range", () => {
    const runs = [
      run("on", variant({ p99: 12 })),
      run("off", variant({ p99: 11, lag: 3 })),
      run("on", variant({ p99: 10, inconsistencies: 2 })),
      run("off", variant({ p99: 15, lag: 7 })),
      run("on", variant({ p99: 14 }))
    ]
    const [on, off] = groupsOf(runs)
    assert.deepStrictEqual([on.label, on.runs, off.label, off.runs], ["on", 3, "off", 2])
    assert.deepStrictEqual(on.p99, { median: 12, min: 10, max: 14 })
    assert.deepStrictEqual(off.p99, { median: 13, min: 11, max: 15 })
    assert.strictEqual(on.inconsistencies, 2)
    assert.strictEqual(off.maxLag, 7)
  })

  it("leaves the money of a backend that forwards nothing out", () => {
    const nullRun = figuresOf({
      label: "null",
      source: "null-1",
      report: { ...sampleReport, meta: { ...sampleReport.meta, backend: "null" } }
    })
    const [group] = groupsOf([nullRun])
    assert.isFalse(group.forwards)
    assert.isUndefined(group.score)
    assert.isUndefined(group.net)
    assert.isUndefined(group.defaultShare)
    assert.deepStrictEqual(group.p99, {
      median: sampleReport.scorecard.p99,
      min: sampleReport.scorecard.p99,
      max: sampleReport.scorecard.p99
    })
  })
})

describe("renderComparison", () => {
  const against = stageP99(sampleReport, 120)!
  const runs: ReadonlyArray<RunFigures> = [
    run("on", variant({ p99: 12, stage150: against * 2 }), "on-1"),
    run("off", variant({ p99: 11.5, stage150: against }), "off-1"),
    run("on", variant({ p99: 13, stage150: against * 1.5 }), "on-2")
  ]
  const rows = (text: string) => text.split("\n").filter((line) => line.startsWith("| "))
  const cells = (line: string) => line.split("|").slice(1, -1).map((cell) => cell.trim())

  it("prints a row per run, a row per label with its median and range, and each label against the first", () => {
    const text = renderComparison(runs, { stage: 150, against: 120 })
    const byFirstCell = new Map(rows(text).map((line) => [cells(line)[0], cells(line)]))
    const runRow = rows(text).find((line) => cells(line)[1] === "off-1")
    assert.isDefined(runRow)
    assert.strictEqual(cells(runRow!)[5], "11.50")
    assert.strictEqual(cells(runRow!).at(-1), "1.00")
    const onGroup = rows(text).find((line) => cells(line)[0] === "on" && cells(line)[1] === "2")
    assert.isDefined(onGroup)
    assert.strictEqual(cells(onGroup!)[4], "12.50 (12.00–13.00)")
    assert.strictEqual(cells(onGroup!).at(-1), "1.75 (1.50–2.00)")
    const delta = byFirstCell.get("off − on")
    assert.isDefined(delta)
    assert.strictEqual(delta![3], "−1.00")
    assert.strictEqual(delta!.at(-1), "−0.75")
  })

  it("has no ratio column unless asked for one, and no comparison with a single label", () => {
    const single = renderComparison(runs.filter((figures) => figures.label === "on"))
    assert.notInclude(single, "stage ")
    assert.notInclude(single, "medians")
    assert.include(renderComparison(runs, { stage: 150, against: 120 }), "stage 150/120 p99")
  })
})

describe("pnpm arena:compare", () => {
  const root = join(import.meta.dirname, "..", "..", "..")
  const dir = mkdtempSync(join(tmpdir(), "arena-compare-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const save = (name: string, report: ArenaReport) => {
    mkdirSync(join(dir, name))
    writeFileSync(join(dir, name, "arena-report.json"), JSON.stringify(report))
    return join(dir, name)
  }
  const compare = (...args: ReadonlyArray<string>) =>
    spawnSync(process.execPath, [join(root, "tools/arena/compare.ts"), ...args], {
      cwd: root,
      encoding: "utf8",
      timeout: 20_000
    })

  it("labels runs by their folder less a trailing -N, or by LABEL=, and reads a folder or its JSON", () => {
    const onOne = save("hold-1", variant({ p99: 10 }))
    const onTwo = save("hold-2", variant({ p99: 14 }))
    const off = save("nohold", variant({ p99: 11 }))
    const result = compare(onOne, join(onTwo, "arena-report.json"), `off=${off}`, "--stage-ratio", "150/120")
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stdout, "| hold | 2 |")
    assert.include(result.stdout, "| off | nohold |")
    assert.include(result.stdout, "| off − hold |")
  })

  it("refuses no runs, a missing run and a ratio that is not two stage starts", () => {
    const refusals = [
      { args: [], message: "no runs to compare" },
      { args: [join(dir, "no-such-run")], message: "no such run" },
      { args: ["--stage-ratio", "150", dir], message: "--stage-ratio takes two stage starts" }
    ]
    for (const { args, message } of refusals) {
      const result = compare(...args)
      assert.strictEqual(result.status, 2)
      assert.include(result.stderr, message)
    }
  })
})

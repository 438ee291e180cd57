import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { type Browser, chromium, type Page } from "playwright-core"
import type { ArenaReport, InstanceSample } from "../../../tools/arena/Model.ts"
import { writeReport } from "../../../tools/arena/Report.ts"
import { gcPausesOf, pageData, recordedPerSecond } from "../../../tools/arena/ReportData.ts"
import { renderHtml } from "../../../tools/arena/ReportPage.ts"
import { renderScorecard } from "../../../tools/arena/Scorecard.ts"
import { sampleReport } from "./fixtures/sampleReport.ts"

const chromiumPath = "/usr/bin/chromium"
const hasChromium = existsSync(chromiumPath)
const chartNames = ["stages", "throughput", "latency", "processors", "queue", "memory", "cpu", "checks"] as const
const hostile = "</script><script>globalThis.__pwned = true</script><!--"

const money = (value: number) =>
  new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(value)

const { nullFloor: _nullFloor, ...withoutFloor } = sampleReport

/** A null backend: no instances to scrape, no processes measured, no null-floor run, and a hostile limits string. */
const nullBackendReport: ArenaReport = {
  ...withoutFloor,
  meta: { ...sampleReport.meta, backend: "null", instances: 1, loadBalancer: "none", limits: hostile },
  series: { ...sampleReport.series, instances: [], processes: [] }
}

/** Nothing observed at all. */
const bareReport: ArenaReport = {
  ...withoutFloor,
  latency: { ...withoutFloor.latency, stages: [] },
  series: { seconds: [], instances: [], processes: [], stages: [], checks: [] }
}

const dataBlock = (html: string, id: string): unknown => {
  const open = `<script type="application/json" id="${id}">`
  const start = html.indexOf(open) + open.length
  return JSON.parse(html.slice(start, html.indexOf("</script>", start)))
}

describe("renderScorecard", () => {
  const text = renderScorecard(sampleReport)
  const lines = text.split("\n")
  const card = sampleReport.scorecard

  it("shows score, net, p99 and bonus, inconsistencies, lag and the processor split", () => {
    assert.include(text, `score            ${money(card.score)}`)
    assert.include(text, `net              ${money(card.net)}`)
    assert.include(text, "p99 / bonus      2.55 ms / 17%")
    assert.include(text, `inconsistencies  2  → fine 35% (−${money(card.fineAmount)})`)
    assert.match(text, /lag {14}0$/m)
    assert.match(text, new RegExp(`default +${card.default.payments.toLocaleString("en-US")} payments`))
    assert.match(text, new RegExp(`fallback +${card.fallback.payments.toLocaleString("en-US")} payments`))
    assert.include(text, "POST p50 / p99   1.01 ms / 2.51 ms")
    assert.include(text, "null floor       p50 0.62 ms / p99 1.74 ms  (POST p99 +0.77 ms, all p99 +0.81 ms)")
  })

  it("lists each stage's p99 and its part of the slowest 1 %, in aligned columns under one label", () => {
    const first = lines.findIndex((line) => line.startsWith("  by stage"))
    const rows = lines.slice(first, first + 1 + sampleReport.latency.stages.length)
    assert.include(rows[0], "from")
    const slowest = sampleReport.latency.stages.reduce((sum, s) => sum + s.slowest, 0)
    assert.isAbove(slowest, 0)
    sampleReport.latency.stages.forEach((stage, i) => {
      const row = rows[i + 1]
      assert.match(row, new RegExp(`^ {19}${stage.at} s `), row)
      assert.include(row, stage.p99 === null ? " – " : `${stage.p99.toFixed(2)} ms`)
      assert.include(row, `${stage.slowest} (${(stage.slowest / slowest * 100).toFixed(1)}%)`)
    })
    assert.include(rows[4], "2,000 ms failing · 1,000 ms")
    const edges = new Set(rows.slice(1).map((row) => row.indexOf(")")))
    assert.deepStrictEqual([...edges], [rows[0].indexOf("1%") + 1], rows.join("\n"))
  })

  it("lists the peak RSS of every process, aligned under one label", () => {
    const rss = lines.slice(lines.findIndex((line) => line.startsWith("  peak RSS")))
    assert.strictEqual(rss.length, 8)
    const peak = Math.max(
      ...sampleReport.series.processes.filter((p) => p.process === "loadgen").map((p) => p.rssMiB)
    )
    assert.isTrue(rss.some((line) => line.includes("loadgen") && line.includes(`${peak.toFixed(1)} MiB`)))
    assert.strictEqual(new Set(rss.map((line) => line.indexOf(" MiB"))).size, 1, rss.join("\n"))
  })

  it("aligns every value at the same column and uses no ANSI unless asked", () => {
    for (const line of lines.slice(1)) {
      assert.strictEqual(line.charAt(18), " ", line)
      // the processor counts are right-aligned within the value column
      if (!/^ {2}(default|fallback) /.test(line)) assert.notStrictEqual(line.charAt(19), " ", line)
    }
    const counts = lines.filter((line) => /^ {2}(default|fallback) /.test(line))
    assert.strictEqual(new Set(counts.map((line) => line.indexOf(" payments"))).size, 1)
    assert.notInclude(text, "\u001b[")
    assert.include(renderScorecard(sampleReport, { ansi: true }), "\u001b[1m")
  })

  it("lists each cgroup's peak memory and CPU throttling, and no throttling for a group nothing ran in", () => {
    const limited = renderScorecard({
      ...sampleReport,
      meta: {
        ...sampleReport.meta,
        cgroups: [
          {
            service: "app1",
            limitMiB: 130,
            peakMiB: 58.1,
            oomKills: 0,
            cpu: { periods: 3033, throttledPeriods: 28, throttledMs: 1320.2 }
          },
          {
            service: "postgres",
            limitMiB: 70,
            peakMiB: 0,
            oomKills: 0,
            cpu: { periods: 0, throttledPeriods: 0, throttledMs: 0 }
          }
        ]
      }
    }).split("\n")
    const cpu = limited.findIndex((line) => line.startsWith("  cgroup CPU"))
    assert.match(limited[cpu], /^ {2}cgroup CPU +app1 +throttled in 28 of 3,033 periods, 1,320 ms stopped$/)
    assert.strictEqual(cpu, limited.length - 1, "postgres ran nothing: no line of its own")
    assert.include(limited.join("\n"), "postgres")
  })

  it("shows the load generator's own collections, each kind's count, total and longest pause", () => {
    const withGc = renderScorecard({
      ...sampleReport,
      meta: {
        ...sampleReport.meta,
        generatorGc: {
          minor: { count: 1328, seconds: 3.204, longestMs: 8.91 },
          major: { count: 12, seconds: 0.287, longestMs: 58 }
        }
      }
    })
    assert.match(
      withGc,
      /^ {2}generator GC +minor 1,328 \(3\.20 s, longest 8\.9 ms\), major 12 \(0\.29 s, longest 58\.0 ms\)$/m
    )
    assert.notInclude(text, "generator GC")
  })

  it("leaves out the null floor, the stages and the processes when there are none, and flags a slush fund", () => {
    const bare = renderScorecard({
      ...bareReport,
      scorecard: { ...bareReport.scorecard, lag: -3, slushFund: true, inconsistencies: 0, fine: 0, fineAmount: 0 }
    })
    assert.notInclude(bare, "null floor")
    assert.notInclude(bare, "peak RSS")
    assert.notInclude(bare, "by stage")
    assert.include(bare, "-3  SLUSH FUND")
    assert.match(bare, /inconsistencies  0$/m)
  })
})

describe("gcPausesOf", () => {
  const at = (t: number, instance: string, gc?: InstanceSample["gc"]): InstanceSample => ({
    t,
    instance,
    queueLength: 0,
    inFlight: 0,
    recordedDefault: 0,
    recordedFallback: 0,
    ...(gc === undefined ? {} : { gc })
  })
  const gc = (minor: number, minorSeconds: number, major: number, majorSeconds: number) => ({
    minor: { count: minor, seconds: minorSeconds },
    major: { count: major, seconds: majorSeconds }
  })
  const samples = [
    at(0, "app1", gc(40, 0.05, 2, 0.01)),
    at(0, "app2"),
    at(5, "app1", gc(60, 0.08, 2, 0.01)),
    at(5, "app2", gc(30, 0.04, 1, 0.02)),
    // a scrape that found no GC series (an instance without Node's metrics) says nothing
    at(10, "app2", gc(0, 0, 0, 0)),
    at(10, "app1", gc(100, 0.25, 5, 0.11)),
    at(15, "app2", gc(45, 0.1, 3, 0.05))
  ]

  it("counts each instance's collections from its first sample to its last, and shows them on the scorecard", () => {
    const pauses = gcPausesOf(samples)
    assert.deepStrictEqual(pauses.map((p) => [p.instance, p.minor.count, p.major.count]), [
      ["app1", 60, 3],
      ["app2", 15, 2]
    ])
    assert.closeTo(pauses[0].minor.seconds, 0.2, 1e-9)
    assert.closeTo(pauses[1].major.seconds, 0.03, 1e-9)
    const text = renderScorecard({ ...sampleReport, series: { ...sampleReport.series, instances: samples } })
    assert.match(text, /^ {2}GC pauses +app1 +minor 60 \(0\.20 s\), major 3 \(0\.10 s\)$/m)
    assert.match(text, /^ {19}app2 +minor 15 \(0\.06 s\), major 2 \(0\.03 s\)$/m)
  })

  it("is empty without GC counts", () => {
    assert.deepStrictEqual(gcPausesOf(samples.map(({ gc: _gc, ...rest }) => rest)), [])
  })
})

describe("pageData", () => {
  const sample = (t: number, instance: string, recordedDefault: number, recordedFallback: number): InstanceSample => ({
    t,
    instance,
    queueLength: 0,
    inFlight: 0,
    recordedDefault,
    recordedFallback
  })

  it("differences the instances' summed counters per second, carrying a missing sample forward", () => {
    const rates = recordedPerSecond([
      sample(1, "a", 10, 0),
      sample(1, "b", 5, 1),
      sample(2, "a", 30, 0),
      // b missed second 2: its last value (5, 1) still counts
      sample(3, "a", 40, 0),
      sample(3, "b", 15, 11),
      // a restarted: its counters went down, which is not a negative rate
      sample(4, "a", 0, 0),
      sample(4, "b", 15, 11)
    ])
    assert.deepStrictEqual(rates.x, [1, 2, 3, 4])
    assert.deepStrictEqual(rates.default, [15, 20, 20, 0])
    assert.deepStrictEqual(rates.fallback, [1, 0, 10, 0])
    assert.deepStrictEqual(rates.defaultShare, [93.75, 100, 66.667, null])
  })

  it("marks the charts that have nothing to draw, and only those", () => {
    const empty = (report: ArenaReport) => pageData(report).charts.filter((c) => c.empty !== null).map((c) => c.name)
    assert.deepStrictEqual(empty(sampleReport), [])
    assert.deepStrictEqual(empty(nullBackendReport), ["processors", "queue", "memory", "cpu"])
    assert.deepStrictEqual(empty(bareReport), [...chartNames])
  })

  it("shades the stage bands: default failing, fallback failing, default slow, else nothing", () => {
    const bands = pageData(sampleReport).bands
    assert.strictEqual(bands.length, 10)
    assert.deepStrictEqual(bands.map((b) => [b.from, b.to]).slice(-2), [[240, 270], [270, 300]])
    assert.strictEqual(bands.filter((b) => b.color !== null).length, 5)
    assert.strictEqual(bands[3].label, "d 2000✗ · f 1000")
  })
})

describe("renderHtml", () => {
  const html = renderHtml(nullBackendReport)

  it("inlines uPlot and the data, and refers to nothing outside the page", () => {
    assert.include(html, readFileSync("node_modules/uplot/dist/uPlot.min.css", "utf8").slice(0, 200))
    assert.notMatch(html, /<(script|link|img|iframe)\b[^>]*\b(src|href)=/i)
    // uPlot's licence comment names its home; nothing else may
    assert.deepStrictEqual([...new Set(html.match(/https?:\/\/[^\s"')]+/g))], ["https://github.com/leeoniya/uPlot"])
  })

  it("lists each stage's requests, p99 and part of the slowest 1 % in the stages table", () => {
    const table = renderHtml(sampleReport).match(/<details id="stages-table">[\s\S]*?<\/details>/)?.[0] ?? ""
    assert.include(table, "<th>of the slowest 1%</th>")
    const rows = table.match(/<tr><th scope="row">[\s\S]*?<\/tr>/g) ?? []
    assert.strictEqual(rows.length, sampleReport.latency.stages.length)
    const slowest = sampleReport.latency.stages.reduce((sum, s) => sum + s.slowest, 0)
    sampleReport.latency.stages.forEach((stage, i) => {
      assert.include(rows[i], `<td>${stage.requests.toLocaleString("en-US")}</td>`)
      assert.include(rows[i], `<td>${stage.slowest} (${(stage.slowest / slowest * 100).toFixed(1)}%)</td>`)
    })
  })

  it("keeps a </script> in the data from closing the script", () => {
    assert.notInclude(html, hostile)
    assert.strictEqual(html.match(/<\/script>/g)?.length, 4)
    assert.deepStrictEqual(dataBlock(html, "arena-report-data"), nullBackendReport)
    assert.include(html, "&lt;/script&gt;&lt;script&gt;globalThis.__pwned")
  })

  it("shows the null floor and its difference only when measured", () => {
    const withFloor = renderHtml(sampleReport)
    assert.include(withFloor, "<th>null floor</th><th>all − floor</th>")
    assert.include(withFloor, "<td>+0.81 ms</td>")
    assert.notInclude(html, "<th>null floor</th>")
    assert.include(html, `id="no-null-floor"`)
  })
})

describe("writeReport", () => {
  const root = mkdtempSync(join(tmpdir(), "arena-report-"))
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it.effect("writes arena-report.html and arena-report.json into a new directory", () =>
    Effect.gen(function*() {
      const paths = yield* writeReport(sampleReport, join(root, "nested", "out"))
      assert.strictEqual(paths.html, join(root, "nested", "out", "arena-report.html"))
      assert.strictEqual(paths.json, join(root, "nested", "out", "arena-report.json"))
      assert.deepStrictEqual(JSON.parse(readFileSync(paths.json, "utf8")), sampleReport)
      assert.include(readFileSync(paths.html, "utf8"), money(sampleReport.scorecard.score))
    }))

  it.effect("fails with ReportWriteError when the directory cannot be made", () =>
    Effect.gen(function*() {
      const file = join(root, "a-file")
      writeFileSync(file, "")
      const error = yield* Effect.flip(writeReport(sampleReport, join(file, "out")))
      assert.strictEqual(error._tag, "ReportWriteError")
      assert.strictEqual(error.path, join(file, "out"))
    }))
})

// == in the browser

interface ChartEntry {
  readonly id: string
  readonly rows: number
  readonly draws: number
  readonly empty?: boolean
  readonly error?: string
  readonly series: ReadonlyArray<{ readonly label: string; readonly color: string; readonly points: number }>
}

interface ReportGlobals {
  readonly __reportReady?: boolean
  readonly __pwned?: boolean
  readonly __charts: Record<string, ChartEntry>
}

/** The handful of DOM shapes the page functions touch; the test compiles without the DOM lib. */
interface BrowserDocument {
  querySelector(selector: string): BrowserElement | null
  querySelectorAll(selector: string): { readonly length: number }
}
interface BrowserElement {
  readonly textContent: string | null
  querySelector(selector: string): BrowserElement | null
  querySelectorAll(selector: string): { readonly length: number }
  getBoundingClientRect(): { readonly width: number; readonly height: number }
}
interface BrowserCanvas extends BrowserElement {
  readonly width: number
  readonly height: number
  getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } }
}

interface Opened {
  readonly page: Page
  readonly url: string
  readonly problems: Array<string>
  readonly requests: Array<string>
}

const skipReason = `SKIPPED: ${chromiumPath} is absent (install Debian's chromium to run the browser tests)`
if (!hasChromium) console.warn(`Report.test.ts: browser tests ${skipReason}`)

describe.skipIf(!hasChromium)(`the page in headless Chromium${hasChromium ? "" : ` (${skipReason})`}`, () => {
  const root = mkdtempSync(join(tmpdir(), "arena-report-browser-"))
  let browser: Browser
  const files: Record<"sample" | "nullBackend" | "bare", string> = { sample: "", nullBackend: "", bare: "" }

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
    const write = (report: ArenaReport, name: string) =>
      Effect.runPromise(writeReport(report, join(root, name))).then((paths) => paths.html)
    files.sample = await write(sampleReport, "sample")
    files.nullBackend = await write(nullBackendReport, "null-backend")
    files.bare = await write(bareReport, "bare")
  })

  afterAll(async () => {
    await browser?.close()
    rmSync(root, { recursive: true, force: true })
  })

  const open = async (file: string): Promise<Opened> => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const url = pathToFileURL(file).href
    const problems: Array<string> = []
    const requests: Array<string> = []
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") {
        problems.push(`${message.type()}: ${message.text()}`)
      }
    })
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`))
    page.on("request", (request) => requests.push(request.url()))
    await page.goto(url)
    await page.waitForFunction(() => (globalThis as unknown as ReportGlobals).__reportReady === true, undefined, {
      timeout: 10_000
    })
    return { page, url, problems, requests }
  }

  const charts = (page: Page) => page.evaluate(() => (globalThis as unknown as ReportGlobals).__charts)

  it("draws every chart with data, shows the score, logs nothing and fetches nothing", async () => {
    const { page, problems, requests, url } = await open(files.sample)
    assert.deepStrictEqual(problems, [])
    assert.deepStrictEqual(requests, [url])

    const registry = await charts(page)
    assert.deepStrictEqual(Object.keys(registry).sort(), [...chartNames].sort())
    for (const name of chartNames) {
      const entry = registry[name]
      assert.strictEqual(entry.id, `chart-${name}`)
      assert.isUndefined(entry.error, name)
      assert.isAbove(entry.rows, 0, name)
      assert.isAbove(entry.draws, 0, name)
      assert.isAbove(entry.series.length, 0, name)
      for (const s of entry.series) assert.isAbove(s.points, 0, `${name}: ${s.label}`)
    }

    // the canvases have a size and carry the series' colours, not just axes
    const drawn = await page.evaluate((names) => {
      const doc = (globalThis as unknown as { document: BrowserDocument }).document
      const registry = (globalThis as unknown as ReportGlobals).__charts
      return names.map((name) => {
        const canvas = doc.querySelector(`#chart-${name} canvas`) as BrowserCanvas | null
        if (canvas === null) return { name, width: 0, height: 0, colored: 0 }
        const box = canvas.getBoundingClientRect()
        const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height)
        const rgb = registry[name].series.map((s) => [1, 3, 5].map((i) => parseInt(s.color.slice(i, i + 2), 16)))
        let colored = 0
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3] < 200) continue
          if (
            rgb.some(([r, g, b]) => Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 40)
          ) {
            colored++
          }
        }
        return { name, width: box.width, height: box.height, colored }
      })
    }, [...chartNames])
    for (const chart of drawn) {
      assert.isAbove(chart.width, 300, chart.name)
      assert.isAbove(chart.height, 100, chart.name)
      assert.isAbove(chart.colored, 200, chart.name)
    }

    const text = (selector: string) => page.locator(selector).first().textContent()
    assert.strictEqual(await text(`#scorecard [data-field="score-value"]`), money(sampleReport.scorecard.score))
    assert.include(await text(`#scorecard [data-field="score"]`), money(sampleReport.scorecard.score))
    assert.include(await text(`#official-json`), `"total_liquido": ${sampleReport.scorecard.score}`)
    assert.include(await text(`#latency-table`), "null floor")
    assert.include(await text(`#report-header`), "nginx")
    assert.strictEqual(await page.locator(".chart-empty").count(), 0)
    await page.close()
  })

  it("renders a null backend's report (no instances, no processes, no null floor) with no-data notes", async () => {
    const { page, problems, requests, url } = await open(files.nullBackend)
    assert.deepStrictEqual(problems, [])
    assert.deepStrictEqual(requests, [url])
    const state = await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: BrowserDocument }).document
      const globals = globalThis as unknown as ReportGlobals
      const chart = (name: string) => {
        const element = doc.querySelector(`#chart-${name}`)
        return {
          exists: element !== null,
          canvases: element?.querySelectorAll("canvas").length ?? 0,
          note: element?.querySelector(".no-data")?.textContent ?? null
        }
      }
      return {
        pwned: globals.__pwned === true,
        limits: doc.querySelector(`[data-meta="limits"] dd`)?.textContent ?? null,
        data: JSON.parse(doc.querySelector("#arena-report-data")?.textContent ?? "null") as unknown,
        noFloor: doc.querySelector("#no-null-floor") !== null,
        charts: Object.fromEntries(
          ["stages", "throughput", "latency", "processors", "queue", "memory", "cpu", "checks"].map((
            n
          ) => [n, chart(n)])
        )
      }
    })
    assert.isFalse(state.pwned)
    assert.strictEqual(state.limits, hostile)
    assert.deepStrictEqual(state.data, nullBackendReport)
    assert.isTrue(state.noFloor)
    for (const name of ["processors", "queue", "memory", "cpu"]) {
      assert.isTrue(state.charts[name].exists, name)
      assert.strictEqual(state.charts[name].canvases, 0, name)
      assert.include(state.charts[name].note, "No data", name)
    }
    for (const name of ["stages", "throughput", "latency", "checks"]) {
      assert.isAbove(state.charts[name].canvases, 0, name)
      assert.isNull(state.charts[name].note, name)
    }
    await page.close()
  })

  it("renders a report with nothing observed at all", async () => {
    const { page, problems, requests, url } = await open(files.bare)
    assert.deepStrictEqual(problems, [])
    assert.deepStrictEqual(requests, [url])
    const registry = await charts(page)
    for (const name of chartNames) assert.isTrue(registry[name].empty, name)
    assert.strictEqual(await page.locator(".chart-empty .no-data").count(), chartNames.length)
    assert.strictEqual(await page.locator("canvas").count(), 0)
    await page.close()
  })
})

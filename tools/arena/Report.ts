/**
 * The arena's report: a self-contained HTML page (uPlot and the data inlined, no network at view time), the raw
 * report as JSON, and a compact scorecard for the terminal.
 */
import { Data, Effect } from "effect"
import { readFileSync } from "node:fs"
import { mkdir, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { join, resolve } from "node:path"
import type { ArenaReport, CheckResult, InstanceSample, LatencySummary, ProcessSample, Stage } from "./Model.ts"

export class ReportWriteError extends Data.TaggedError("ReportWriteError")<{
  readonly message: string
  readonly path: string
  readonly cause: unknown
}> {}

// == chart data

type SeriesKind = "line" | "step" | "bars"

export interface ChartSeries {
  readonly label: string
  readonly scale: string
  readonly color: string
  readonly kind: SeriesKind
  readonly dash: ReadonlyArray<number> | null
  readonly points: boolean
  readonly width: number
  /** Decimals and unit of the legend value. */
  readonly digits: number
  readonly unit: string
  readonly values: ReadonlyArray<number | null>
}

export interface ChartScale {
  readonly key: string
  readonly label: string
  /** zero: linear from 0; percent: 0–100; asinh: arcsinh, so 0, 5 and 5000 are all readable. */
  readonly kind: "zero" | "percent" | "asinh"
}

export interface ChartSpec {
  /** The id of the chart's container element, e.g. "chart-throughput". */
  readonly id: string
  readonly name: string
  readonly title: string
  readonly description: string
  /** Why there is nothing to draw, or null when there is. */
  readonly empty: string | null
  readonly height: number
  readonly stageLabels: boolean
  readonly x: ReadonlyArray<number>
  readonly scales: ReadonlyArray<ChartScale>
  readonly series: ReadonlyArray<ChartSeries>
}

export interface StageBand {
  readonly from: number
  readonly to: number
  readonly color: string | null
  readonly label: string
}

export interface PageData {
  readonly xMin: number
  readonly xMax: number
  readonly bands: ReadonlyArray<StageBand>
  readonly charts: ReadonlyArray<ChartSpec>
}

const palette = [
  "#2563eb",
  "#16a34a",
  "#dc2626",
  "#9333ea",
  "#ea580c",
  "#0891b2",
  "#ca8a04",
  "#db2777",
  "#4b5563",
  "#65a30d"
]
const colors = {
  requests: "#2563eb",
  payments: "#16a34a",
  failed: "#dc2626",
  vus: "#64748b",
  p50: "#2563eb",
  p99: "#dc2626",
  runP99: "#7c3aed",
  floor: "#475569",
  default: "#16a34a",
  fallback: "#ea580c",
  share: "#0f172a",
  backend: "#2563eb",
  processors: "#16a34a",
  inconsistencies: "#dc2626"
}

const bandColors = {
  bothFailing: "rgba(153, 27, 27, 0.22)",
  defaultFailing: "rgba(239, 68, 68, 0.14)",
  fallbackFailing: "rgba(249, 115, 22, 0.16)",
  defaultSlow: "rgba(234, 179, 8, 0.16)"
}

/** A default delay at or above this is drawn as "slow". */
const slowDelay = 1000

const series = (
  label: string,
  values: ReadonlyArray<number | null>,
  options: Partial<Omit<ChartSeries, "label" | "values">> & { readonly color: string }
): ChartSeries => ({
  label,
  values,
  scale: options.scale ?? "y",
  color: options.color,
  kind: options.kind ?? "line",
  dash: options.dash ?? null,
  points: options.points ?? false,
  width: options.width ?? 1.5,
  digits: options.digits ?? 0,
  unit: options.unit ?? ""
})

const roundTo = (digits: number) => (value: number) => {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}
const round3 = roundTo(3)

const hasData = (chart: Pick<ChartSpec, "x" | "series">) =>
  chart.x.length > 0 && chart.series.some((s) => s.values.some((v) => v !== null))

const chart = (spec: Omit<ChartSpec, "id" | "empty"> & { readonly whenEmpty: string }): ChartSpec => {
  const { whenEmpty, ...rest } = spec
  return { ...rest, id: `chart-${spec.name}`, empty: hasData(spec) ? null : whenEmpty }
}

/** Samples of many keys (instances, processes) on one x axis of whole seconds; a later sample in a second wins. */
const pivot = <S extends { readonly t: number }>(samples: ReadonlyArray<S>, keyOf: (sample: S) => string) => {
  const x = [...new Set(samples.map((s) => Math.round(s.t)))].sort((a, b) => a - b)
  const index = new Map(x.map((t, i) => [t, i]))
  const keys = [...new Set(samples.map(keyOf))]
  const rows = new Map(keys.map((key) => [key, Array.from<S | undefined>({ length: x.length })]))
  for (const sample of samples) {
    const row = rows.get(keyOf(sample))
    const at = index.get(Math.round(sample.t))
    if (row !== undefined && at !== undefined) row[at] = sample
  }
  const column = (key: string, value: (sample: S) => number): Array<number | null> =>
    (rows.get(key) ?? []).map((sample) => sample === undefined ? null : round3(value(sample)))
  return { x, keys, rows, column }
}

/**
 * Per-second payments the instances recorded for each processor: the sum over instances of their cumulative
 * counters (a missing sample carries the instance's last value), differenced. A counter that went down (a restart)
 * counts as 0 for that interval.
 */
export const recordedPerSecond = (instances: ReadonlyArray<InstanceSample>) => {
  const { keys, rows, x } = pivot(instances, (s) => s.instance)
  const last = new Map(keys.map((key) => [key, { default: 0, fallback: 0 }]))
  const totals = x.map((_, i) => {
    let d = 0
    let f = 0
    for (const key of keys) {
      const sample = rows.get(key)?.[i]
      const previous = last.get(key) ?? { default: 0, fallback: 0 }
      const current = sample === undefined
        ? previous
        : { default: sample.recordedDefault, fallback: sample.recordedFallback }
      last.set(key, current)
      d += current.default
      f += current.fallback
    }
    return { default: d, fallback: f }
  })
  const defaultRate: Array<number | null> = []
  const fallbackRate: Array<number | null> = []
  const defaultShare: Array<number | null> = []
  totals.forEach((total, i) => {
    const previous = i === 0 ? { default: 0, fallback: 0 } : totals[i - 1]
    const dt = i === 0 ? Math.max(1, x[0]) : Math.max(1e-9, x[i] - x[i - 1])
    const d = Math.max(0, total.default - previous.default) / dt
    const f = Math.max(0, total.fallback - previous.fallback) / dt
    defaultRate.push(round3(d))
    fallbackRate.push(round3(f))
    defaultShare.push(d + f > 0 ? round3(100 * d / (d + f)) : null)
  })
  return { x, default: defaultRate, fallback: fallbackRate, defaultShare }
}

const bandColor = (stage: Stage): string | null =>
  stage.default.failure && stage.fallback.failure
    ? bandColors.bothFailing
    : stage.default.failure
    ? bandColors.defaultFailing
    : stage.fallback.failure
    ? bandColors.fallbackFailing
    : stage.default.delay >= slowDelay
    ? bandColors.defaultSlow
    : null

const conditionLabel = (condition: Stage["default"]) => `${condition.delay}${condition.failure ? "✗" : ""}`

const stageBands = (stages: ReadonlyArray<Stage>, xMax: number): ReadonlyArray<StageBand> => {
  const sorted = [...stages].sort((a, b) => a.at - b.at)
  return sorted.map((stage, i) => ({
    from: stage.at,
    to: i + 1 < sorted.length ? sorted[i + 1].at : Math.max(xMax, stage.at),
    color: bandColor(stage),
    label: `d ${conditionLabel(stage.default)} · f ${conditionLabel(stage.fallback)}`
  }))
}

const xExtent = (report: ArenaReport) => {
  const { checks, instances, processes, seconds, stages } = report.series
  const ts = [
    ...seconds.map((s) => s.t),
    ...instances.map((s) => s.t),
    ...processes.map((s) => s.t),
    ...checks.map((s) => s.t),
    ...stages.map((s) => s.at)
  ]
  return { xMin: 0, xMax: Math.max(report.meta.durationSeconds, ...ts, 1) }
}

const constant = (x: ReadonlyArray<number>, value: number) => x.map(() => round3(value))

/** Everything the page draws, derived from the report. */
export const pageData = (report: ArenaReport): PageData => {
  const { xMax, xMin } = xExtent(report)
  const { checks, instances, processes, seconds, stages } = report.series
  const secondsX = seconds.map((s) => s.t)
  const left = (label: string): ChartScale => ({ key: "y", label, kind: "zero" })

  // each stage holds until the next; the last one until the end of the x axis
  const sortedStages = [...stages].sort((a, b) => a.at - b.at)
  const lastStage = sortedStages.at(-1)
  const extend = lastStage !== undefined && lastStage.at < xMax ? [lastStage] : []
  const stageX = [...sortedStages.map((s) => s.at), ...extend.map(() => xMax)]
  const stageValues = (pick: (stage: Stage) => number) => [...sortedStages, ...extend].map(pick)

  const latencySeries = [
    series("payment p50", seconds.map((s) => s.paymentP50 === null ? null : round3(s.paymentP50)), {
      color: colors.p50,
      digits: 2,
      unit: " ms"
    }),
    series("payment p99", seconds.map((s) => s.paymentP99 === null ? null : round3(s.paymentP99)), {
      color: colors.p99,
      digits: 2,
      unit: " ms"
    }),
    series("run p99 (all requests)", constant(secondsX, report.latency.all.p99), {
      color: colors.runP99,
      dash: [6, 4],
      width: 1,
      digits: 2,
      unit: " ms"
    }),
    ...(report.nullFloor === undefined ? [] : [
      series("null-backend floor p99", constant(secondsX, report.nullFloor.p99), {
        color: colors.floor,
        dash: [2, 3],
        width: 1.25,
        digits: 2,
        unit: " ms"
      })
    ])
  ]

  const recorded = recordedPerSecond(instances)
  const queue = pivot(instances, (s) => s.instance)
  const procs = pivot(processes, (s) => s.process)
  const color = (i: number) => palette[i % palette.length]

  const charts: ReadonlyArray<ChartSpec> = [
    chart({
      name: "stages",
      title: "Processor conditions",
      description: "Delay of each payment processor (ms, arcsinh scale) per stage; ✗ marks a failing processor. "
        + "The same bands shade every chart below.",
      whenEmpty: "No data: the profile has no stages.",
      height: 170,
      stageLabels: true,
      x: stageX,
      scales: [{ key: "y", label: "delay (ms)", kind: "asinh" }],
      series: [
        series("default delay", stageValues((s) => s.default.delay), {
          color: colors.default,
          kind: "step",
          width: 2,
          unit: " ms"
        }),
        series("fallback delay", stageValues((s) => s.fallback.delay), {
          color: colors.fallback,
          kind: "step",
          width: 2,
          dash: [6, 3],
          unit: " ms"
        })
      ]
    }),
    chart({
      name: "throughput",
      title: "Throughput and load",
      description: "Requests and payments that ended in each second, failed payments, and virtual users (right axis).",
      whenEmpty: "No data: the load generator recorded no seconds.",
      height: 240,
      stageLabels: false,
      x: secondsX,
      scales: [left("per second"), { key: "vus", label: "VUs", kind: "zero" }],
      series: [
        series("requests/s", seconds.map((s) => s.requests), { color: colors.requests }),
        series("payments/s", seconds.map((s) => s.payments), { color: colors.payments }),
        series("failed payments/s", seconds.map((s) => s.failedPayments), { color: colors.failed }),
        series("VUs", seconds.map((s) => s.vus), { color: colors.vus, scale: "vus", dash: [4, 4], width: 1 })
      ]
    }),
    chart({
      name: "latency",
      title: "Payment latency",
      description: "p50 and p99 of the POST /payments that ended in each second (ms), against the run's p99 over all "
        + "requests and, when measured, the null-backend floor.",
      whenEmpty: "No data: no payment ended in any second.",
      height: 240,
      stageLabels: false,
      x: secondsX,
      scales: [left("ms")],
      series: seconds.some((s) => s.paymentP50 !== null || s.paymentP99 !== null) ? latencySeries : []
    }),
    chart({
      name: "processors",
      title: "Default vs fallback",
      description: "Payments the instances recorded per second for each processor (summed over instances), and the "
        + "default's share of them in % (right axis).",
      whenEmpty: "No data: no instance samples (a null or custom backend exposes no /metrics).",
      height: 240,
      stageLabels: false,
      x: recorded.x,
      scales: [left("payments/s"), { key: "share", label: "default share (%)", kind: "percent" }],
      series: [
        series("default/s", recorded.default, { color: colors.default, digits: 1 }),
        series("fallback/s", recorded.fallback, { color: colors.fallback, digits: 1 }),
        series("default share", recorded.defaultShare, {
          color: colors.share,
          scale: "share",
          dash: [3, 3],
          width: 1,
          digits: 1,
          unit: "%"
        })
      ]
    }),
    chart({
      name: "queue",
      title: "Queue depth and in-flight",
      description: "Payments waiting in each instance's queue (solid) and being sent to a processor (dashed).",
      whenEmpty: "No data: no instance samples (a null or custom backend exposes no /metrics).",
      height: 240,
      stageLabels: false,
      x: queue.x,
      scales: [left("payments")],
      series: queue.keys.flatMap((key, i) => [
        series(`${key} queue`, queue.column(key, (s) => s.queueLength), { color: color(i) }),
        series(`${key} in-flight`, queue.column(key, (s) => s.inFlight), { color: color(i), dash: [5, 3], width: 1 })
      ])
    }),
    chart({
      name: "memory",
      title: "Memory (RSS)",
      description: "Resident memory of each process the arena started, MiB.",
      whenEmpty: "No data: no process samples.",
      height: 240,
      stageLabels: false,
      x: procs.x,
      scales: [left("MiB")],
      series: procs.keys.map((key, i) =>
        series(key, procs.column(key, (s: ProcessSample) => s.rssMiB), { color: color(i), digits: 1, unit: " MiB" })
      )
    }),
    chart({
      name: "cpu",
      title: "CPU",
      description: "Share of one core each process used since its previous sample, %.",
      whenEmpty: "No data: no process samples.",
      height: 240,
      stageLabels: false,
      x: procs.x,
      scales: [left("% of a core")],
      series: procs.keys.map((key, i) =>
        series(key, procs.column(key, (s: ProcessSample) => s.cpuPercent), { color: color(i), digits: 1, unit: "%" })
      )
    }),
    chart({
      name: "checks",
      title: "Consistency checks",
      description: "Inconsistencies each periodic check found (bars), and the requests the backend and the processors "
        + "reported for the check's window (right axis).",
      whenEmpty: "No data: no consistency check ran.",
      height: 240,
      stageLabels: false,
      x: checks.map((c) => c.t),
      scales: [left("inconsistencies"), { key: "count", label: "requests in window", kind: "zero" }],
      series: [
        series("inconsistencies", checks.map((c) => c.inconsistencies), {
          color: colors.inconsistencies,
          kind: "bars"
        }),
        series("backend", checks.map((c) => c.backend.default + c.backend.fallback), {
          color: colors.backend,
          scale: "count",
          points: true
        }),
        series("processors", checks.map((c) => c.processors.default + c.processors.fallback), {
          color: colors.processors,
          scale: "count",
          points: true,
          dash: [5, 3]
        })
      ]
    })
  ]
  return { xMin, xMax, bands: stageBands(stages, xMax), charts }
}

// == formatting

const numberFormat = (digits: number) =>
  new Intl.NumberFormat("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
const money = numberFormat(2).format
const integer = numberFormat(0).format
const ms = (value: number) => `${numberFormat(2).format(value)} ms`
const percent = (fraction: number, digits = 0) => `${numberFormat(digits).format(fraction * 100)}%`
const signedMs = (value: number) => `${value >= 0 ? "+" : "−"}${numberFormat(2).format(Math.abs(value))} ms`
const share = (part: number, total: number) => total > 0 ? percent(part / total, 1) : "–"

const escapeHtml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

/** JSON for a `<script type="application/json">` block: no `<` survives, so no `</script>` or `<!--` either. */
const jsonForScript = (value: unknown) =>
  JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029")

// == uPlot assets

let assets: { readonly js: string; readonly css: string } | undefined

const uplotAssets = () => {
  if (assets === undefined) {
    const require = createRequire(import.meta.url)
    const js = readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8")
    const css = readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8")
    assets = { js: js.replace(/<\/(script)/gi, "<\\/$1"), css: css.replace(/<\/(style)/gi, "<\\/$1") }
  }
  return assets
}

// == HTML

const peaks = (processes: ReadonlyArray<ProcessSample>) => {
  const byProcess = new Map<
    string,
    { rssMiB: number; anonMiB: number; cpuPercent: number; cpuSum: number; samples: number }
  >()
  for (const sample of processes) {
    const peak = byProcess.get(sample.process) ?? { rssMiB: 0, anonMiB: 0, cpuPercent: 0, cpuSum: 0, samples: 0 }
    byProcess.set(sample.process, {
      rssMiB: Math.max(peak.rssMiB, sample.rssMiB),
      anonMiB: Math.max(peak.anonMiB, sample.anonMiB ?? 0),
      cpuPercent: Math.max(peak.cpuPercent, sample.cpuPercent),
      cpuSum: peak.cpuSum + sample.cpuPercent,
      samples: peak.samples + 1
    })
  }
  return [...byProcess].map(([process, peak]) => ({
    process,
    rssMiB: peak.rssMiB,
    anonMiB: peak.anonMiB,
    cpuPercent: peak.cpuPercent,
    cpuMean: peak.samples > 0 ? peak.cpuSum / peak.samples : 0
  }))
}

const row = (cells: ReadonlyArray<string>, options: { readonly field?: string; readonly className?: string } = {}) =>
  `<tr${options.field === undefined ? "" : ` data-field="${options.field}"`}${
    options.className === undefined ? "" : ` class="${options.className}"`
  }>${cells.map((cell, i) => i === 0 ? `<th scope="row">${cell}</th>` : `<td>${cell}</td>`).join("")}</tr>`

const headerHtml = (report: ArenaReport) => {
  const { meta } = report
  const items: ReadonlyArray<readonly [string, string]> = [
    ["profile", meta.profile],
    ["started", meta.startedAt],
    ["duration", `${integer(meta.durationSeconds)} s`],
    ["instances", integer(meta.instances)],
    ["backend", meta.backend],
    ["load balancer", meta.loadBalancer],
    ["database", meta.database],
    ["limits", meta.limits]
  ]
  return `<header id="report-header">
<h1>Arena report <span class="profile">${escapeHtml(meta.profile)}</span></h1>
<dl class="meta">${
    items.map(([key, value]) =>
      `<div data-meta="${key.replace(/ /g, "-")}"><dt>${key}</dt><dd>${escapeHtml(value)}</dd></div>`
    )
      .join("")
  }</dl>
</header>`
}

const scorecardHtml = (report: ArenaReport) => {
  const card = report.scorecard
  const held = card.default.payments + card.fallback.payments
  const processorRow = (name: "default" | "fallback") => {
    const p = card[name]
    return row([name, integer(p.payments), share(p.payments, held), money(p.gross), money(p.fees)], { field: name })
  }
  return `<section id="scorecard" class="card">
<h2>Scorecard</h2>
<div class="score-line"><span class="score-label">score (total_liquido)</span> <span class="score" data-field="score-value">${
    money(card.score)
  }</span></div>
<table class="kv">
<tbody>
${row(["score", money(card.score), "net × (1 + bonus − fine)"], { field: "score" })}
${row(["gross", money(card.gross), "what the processors hold"], { field: "gross" })}
${row(["fees", money(card.fees), ""], { field: "fees" })}
${row(["net", money(card.net), "gross − fees"], { field: "net" })}
${row(["p99 / bonus", `${ms(card.p99)} / ${percent(card.bonus)}`, "2% per ms under 11 ms"], { field: "p99" })}
${
    row(
      ["fine", `${percent(card.fine)} (${money(card.fineAmount)})`, `${integer(card.inconsistencies)} inconsistencies`],
      { field: "fine", className: card.inconsistencies > 0 ? "bad" : "good" }
    )
  }
${
    row(["lag", integer(card.lag), card.slushFund ? "slush fund: YES (lag < 0)" : "slush fund: no"], {
      field: "lag",
      className: card.slushFund ? "bad" : card.lag > 0 ? "warn" : "good"
    })
  }
${
    row([
      "payments",
      `${integer(card.successfulPayments)} ok / ${integer(card.failedPayments)} failed`,
      "POST /payments"
    ], {
      field: "payments",
      className: card.failedPayments > 0 ? "warn" : ""
    })
  }
</tbody>
</table>
<table class="grid" id="processor-split">
<thead><tr><th>processor</th><th>payments</th><th>share</th><th>gross</th><th>fees</th></tr></thead>
<tbody>
${processorRow("default")}
${processorRow("fallback")}
</tbody>
</table>
<details id="official-json"><summary>official final-results.json</summary><pre>${
    escapeHtml(JSON.stringify(report.official, null, 2))
  }</pre></details>
</section>`
}

const latencyHtml = (report: ArenaReport) => {
  const { all, payments } = report.latency
  const floor = report.nullFloor
  const metrics: ReadonlyArray<readonly [string, (l: LatencySummary) => number]> = [
    ["p50", (l) => l.p50],
    ["p90", (l) => l.p90],
    ["p99", (l) => l.p99],
    ["p99.9", (l) => l.p999],
    ["max", (l) => l.max]
  ]
  const head = floor === undefined
    ? "<th></th><th>all requests</th><th>payments</th>"
    : "<th></th><th>all requests</th><th>payments</th><th>null floor</th><th>all − floor</th><th>payments − floor</th>"
  const rows = metrics.map(([name, pick]) =>
    row(
      floor === undefined
        ? [name, ms(pick(all)), ms(pick(payments))]
        : [
          name,
          ms(pick(all)),
          ms(pick(payments)),
          ms(pick(floor)),
          signedMs(pick(all) - pick(floor)),
          signedMs(pick(payments) - pick(floor))
        ],
      { field: `latency-${name}` }
    )
  )
  const count = row(
    floor === undefined
      ? ["count", integer(all.count), integer(payments.count)]
      : ["count", integer(all.count), integer(payments.count), integer(floor.count), "", ""],
    { field: "latency-count" }
  )
  return `<section id="latency" class="card">
<h2>Latency</h2>
<table class="grid" id="latency-table"><thead><tr>${head}</tr></thead><tbody>
${count}
${rows.join("\n")}
</tbody></table>
${
    floor === undefined
      ? `<p class="note" id="no-null-floor">No null-backend floor: run the arena with --null-backend on the same machine to measure one.</p>`
      : ""
  }
</section>`
}

const bandLegendHtml = `<div class="band-legend" id="band-legend">
<span><i style="background:${bandColors.defaultFailing}"></i>default failing</span>
<span><i style="background:${bandColors.fallbackFailing}"></i>fallback failing</span>
<span><i style="background:${bandColors.bothFailing}"></i>both failing</span>
<span><i style="background:${bandColors.defaultSlow}"></i>default delay ≥ ${slowDelay} ms</span>
</div>`

const chartHtml = (spec: ChartSpec) =>
  `<section class="card chart-card" id="card-${spec.name}">
<h3>${escapeHtml(spec.title)}</h3>
<p class="desc">${escapeHtml(spec.description)}</p>
${
    spec.empty === null
      ? `<div class="chart" id="${spec.id}" data-chart="${spec.name}"><div class="chart-canvas"></div></div>`
      : `<div class="chart chart-empty" id="${spec.id}" data-chart="${spec.name}"><p class="no-data">${
        escapeHtml(spec.empty)
      }</p></div>`
  }
</section>`

const stagesTableHtml = (stages: ReadonlyArray<Stage>) =>
  stages.length === 0 ? "" : `<details id="stages-table"><summary>stages</summary><table class="grid">
<thead><tr><th>from (s)</th><th>default delay</th><th>default failing</th><th>fallback delay</th><th>fallback failing</th></tr></thead>
<tbody>${
    [...stages].sort((a, b) => a.at - b.at).map((s) =>
      row([
        integer(s.at),
        `${integer(s.default.delay)} ms`,
        s.default.failure ? "yes" : "no",
        `${integer(s.fallback.delay)} ms`,
        s.fallback.failure ? "yes" : "no"
      ])
    ).join("")
  }</tbody></table></details>`

const checksTableHtml = (checks: ReadonlyArray<CheckResult>) =>
  checks.length === 0 ?
    "" :
    `<details id="checks-table"${checks.some((c) => c.inconsistencies > 0) ? " open" : ""}><summary>checks (${
      integer(checks.length)
    }, ${
      integer(checks.filter((c) => c.inconsistencies > 0).length)
    } with inconsistencies)</summary><table class="grid">
<thead><tr><th>t (s)</th><th>window</th><th>backend d / f</th><th>processors d / f</th><th>inconsistencies</th></tr></thead>
<tbody>${
      checks.map((c) =>
        row([
          numberFormat(1).format(c.t),
          `${escapeHtml(c.from)} → ${escapeHtml(c.to)}`,
          `${integer(c.backend.default)} / ${integer(c.backend.fallback)}`,
          `${integer(c.processors.default)} / ${integer(c.processors.fallback)}`,
          integer(c.inconsistencies)
        ], { className: c.inconsistencies > 0 ? "bad" : "" })
      ).join("")
    }</tbody></table></details>`

const css = `
:root { color-scheme: light; --fg: #0f172a; --muted: #64748b; --line: #e2e8f0; --bg: #f8fafc; --good: #15803d;
  --bad: #b91c1c; --warn: #a16207; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 10px; }
#report-header { margin-bottom: 14px; }
h1 .profile { font-weight: 500; color: var(--muted); }
h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 15px; margin: 0 0 2px; }
.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(290px, 1fr)); gap: 4px 18px; margin: 0; }
.meta div[data-meta="limits"], .meta div[data-meta="database"] { grid-column: span 2; }
.meta div { display: flex; gap: 8px; min-width: 0; }
.meta dt { color: var(--muted); min-width: 96px; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 14px 0; }
.top { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 14px; }
.top .card { margin: 0; }
@media (max-width: 900px) { .top { grid-template-columns: 1fr; } }
.score-line { margin-bottom: 8px; }
.score-label { color: var(--muted); }
.score { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.kv th { text-align: left; font-weight: 500; color: var(--muted); padding: 2px 14px 2px 0; white-space: nowrap; }
.kv td { padding: 2px 14px 2px 0; }
.kv td:nth-child(2) { text-align: right; font-weight: 600; white-space: nowrap; }
.kv td:nth-child(3) { color: var(--muted); }
.grid { margin-top: 10px; }
.grid th, .grid td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: right; white-space: nowrap; }
#latency { overflow-x: auto; }
.grid thead th { color: var(--muted); font-weight: 500; }
.grid tbody th { text-align: left; font-weight: 500; }
tr.bad td, tr.bad th { color: var(--bad); }
tr.warn td, tr.warn th { color: var(--warn); }
tr.good td:nth-child(2) { color: var(--good); }
details { margin-top: 10px; }
summary { cursor: pointer; color: var(--muted); }
pre { background: var(--bg); border: 1px solid var(--line); padding: 8px; overflow: auto; max-height: 420px;
  font-size: 12px; }
.note, .desc { color: var(--muted); margin: 6px 0; }
.desc { margin: 0 0 8px; font-size: 13px; }
.band-legend { display: flex; flex-wrap: wrap; gap: 6px 18px; color: var(--muted); font-size: 13px; margin: 18px 0 4px; }
.band-legend i { display: inline-block; width: 14px; height: 12px; margin-right: 6px; vertical-align: -1px;
  border: 1px solid var(--line); }
.chart { width: 100%; min-height: 40px; }
.chart-empty { display: flex; align-items: center; justify-content: center; min-height: 80px;
  border: 1px dashed var(--line); border-radius: 6px; }
.no-data { color: var(--muted); margin: 0; }
.u-legend { font-size: 12px; }
.u-legend .u-series th { font-weight: 500; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
`

/**
 * The page's script. Plain JS, no backticks and no template holes, run after uPlot: it builds one uPlot per chart
 * with data, shades the stage bands, exposes `window.__charts` and sets `window.__reportReady`.
 */
const clientScript = String.raw`(function () {
  "use strict";
  var page = JSON.parse(document.getElementById("arena-charts").textContent);
  var registry = {};
  var plots = [];
  window.__charts = registry;
  window.__reportReady = false;

  function format(value, digits, unit) {
    if (value == null) return "–";
    return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) + unit;
  }

  function bandsPlugin(withLabels) {
    function extent(u, band) {
      var left = u.bbox.left, right = u.bbox.left + u.bbox.width;
      var x0 = Math.max(left, Math.round(u.valToPos(band.from, "x", true)));
      var x1 = Math.min(right, Math.round(u.valToPos(band.to, "x", true)));
      return [x0, x1];
    }
    return {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height, px = uPlot.pxRatio;
          ctx.save();
          page.bands.forEach(function (band, i) {
            var e = extent(u, band);
            if (e[1] <= e[0]) return;
            if (band.color) {
              ctx.fillStyle = band.color;
              ctx.fillRect(e[0], top, e[1] - e[0], height);
            }
            if (i > 0) {
              ctx.strokeStyle = "rgba(100, 116, 139, 0.45)";
              ctx.lineWidth = px;
              ctx.setLineDash([3 * px, 3 * px]);
              ctx.beginPath();
              ctx.moveTo(e[0] + 0.5, top);
              ctx.lineTo(e[0] + 0.5, top + height);
              ctx.stroke();
            }
          });
          ctx.restore();
        }],
        draw: [function (u) {
          if (!withLabels) return;
          var ctx = u.ctx, px = uPlot.pxRatio;
          ctx.save();
          ctx.fillStyle = "#334155";
          ctx.font = (10 * px) + "px system-ui, sans-serif";
          ctx.textBaseline = "bottom";
          page.bands.forEach(function (band) {
            var e = extent(u, band);
            if (e[1] - e[0] < 20 * px) return;
            ctx.fillText(band.label, e[0] + 3 * px, u.bbox.top - 3 * px, e[1] - e[0] - 6 * px);
          });
          ctx.restore();
        }]
      }
    };
  }

  function scaleOptions(scale) {
    if (scale.kind === "percent") return { range: [0, 100] };
    if (scale.kind === "asinh") return { distr: 4, asinh: 1, range: function (u, min, max) { return [0, Math.max(10, max * 1.6)]; } };
    return { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } };
  }

  function build(spec) {
    var container = document.getElementById(spec.id);
    var target = container.querySelector(".chart-canvas");
    var scales = { x: { time: false, range: [page.xMin, page.xMax] } };
    var axes = [{ scale: "x", label: "seconds since start", labelSize: 20, size: 36 }];
    spec.scales.forEach(function (scale, i) {
      scales[scale.key] = scaleOptions(scale);
      var axis = { scale: scale.key, label: scale.label, side: i === 0 ? 3 : 1, grid: { show: i === 0 }, size: 56, labelSize: 20 };
      if (scale.kind === "asinh") {
        axis.splits = function (u, index, min, max) {
          return [0, 10, 100, 1000, 10000, 100000].filter(function (v) { return v >= min && v <= max; });
        };
      }
      axes.push(axis);
    });
    if (spec.scales.length === 1) {
      // an empty right axis keeps every chart's plot area aligned with the ones that have a second scale
      axes.push({
        scale: spec.scales[0].key,
        side: 1,
        size: 76,
        grid: { show: false },
        ticks: { show: false },
        values: function (u, splits) { return splits.map(function () { return ""; }); }
      });
    }
    var series = [{ label: "t", value: function (u, v) { return v == null ? "–" : format(v, 1, " s"); } }];
    spec.series.forEach(function (s) {
      var options = {
        label: s.label,
        scale: s.scale,
        stroke: s.color,
        width: s.width,
        points: { show: s.points, size: 5, fill: s.color },
        value: function (u, v) { return format(v, s.digits, s.unit); }
      };
      if (s.dash) options.dash = s.dash;
      if (s.kind === "step") options.paths = uPlot.paths.stepped({ align: 1 });
      if (s.kind === "bars") {
        options.paths = uPlot.paths.bars({ size: [0.6, 14], align: 0 });
        options.fill = s.color;
        options.points = { show: false };
      }
      series.push(options);
    });
    var entry = {
      id: spec.id,
      rows: spec.x.length,
      series: spec.series.map(function (s) {
        return { label: s.label, color: s.color, points: s.values.filter(function (v) { return v != null; }).length };
      }),
      draws: 0
    };
    registry[spec.name] = entry;
    var options = {
      width: Math.max(320, target.clientWidth),
      height: spec.height,
      scales: scales,
      axes: axes,
      series: series,
      legend: { live: true },
      cursor: { sync: { key: "arena", scales: ["x", null] } },
      plugins: [bandsPlugin(spec.stageLabels)],
      padding: [spec.stageLabels ? 18 : 10, 0, 0, 0],
      hooks: { draw: [function () { entry.draws++; }] }
    };
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    plots.push({ plot: new uPlot(options, data, target), target: target });
  }

  page.charts.forEach(function (spec) {
    if (spec.empty !== null) {
      registry[spec.name] = { id: spec.id, rows: 0, series: [], draws: 0, empty: true };
      return;
    }
    try {
      build(spec);
    } catch (error) {
      registry[spec.name] = { id: spec.id, rows: 0, series: [], draws: 0, error: String(error) };
      console.error("chart " + spec.name + " failed:", error);
    }
  });

  window.addEventListener("resize", function () {
    plots.forEach(function (p) {
      p.plot.setSize({ width: Math.max(320, p.target.clientWidth), height: p.plot.height });
    });
  });

  requestAnimationFrame(function () {
    requestAnimationFrame(function () { window.__reportReady = true; });
  });
})();`

/** A self-contained page: uPlot's JS and CSS and the report's data are inlined, nothing is fetched at view time. */
export const renderHtml = (report: ArenaReport): string => {
  const { css: uplotCss, js: uplotJs } = uplotAssets()
  const data = pageData(report)
  const byName = new Map(data.charts.map((c) => [c.name, c]))
  const charts = (names: ReadonlyArray<string>) =>
    names.flatMap((name) => {
      const spec = byName.get(name)
      return spec === undefined ? [] : [chartHtml(spec)]
    }).join("\n")
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Arena report: ${escapeHtml(report.meta.profile)} ${escapeHtml(report.meta.startedAt)}</title>
<style>${uplotCss}</style>
<style>${css}</style>
</head>
<body>
<main>
${headerHtml(report)}
<div class="top">
${scorecardHtml(report)}
${latencyHtml(report)}
</div>
${bandLegendHtml}
${charts(["stages"])}
${stagesTableHtml(report.series.stages)}
${charts(["throughput", "latency", "processors", "queue", "memory", "cpu", "checks"])}
${checksTableHtml(report.series.checks)}
<footer>Generated by the arena. The full report is embedded as JSON in #arena-report-data.</footer>
</main>
<script type="application/json" id="arena-report-data">${jsonForScript(report)}</script>
<script type="application/json" id="arena-charts">${jsonForScript(data)}</script>
<script>${uplotJs}</script>
<script>${clientScript}</script>
</body>
</html>
`
}

// == terminal

const ansi = (enabled: boolean) => {
  const wrap = (code: string) => (text: string) => enabled ? `\u001b[${code}m${text}\u001b[0m` : text
  return { bold: wrap("1"), red: wrap("31"), yellow: wrap("33"), green: wrap("32"), dim: wrap("2") }
}

/** A compact, aligned scorecard for the terminal; ANSI colours only when `ansi: true`. */
export const renderScorecard = (report: ArenaReport, options: { readonly ansi?: boolean } = {}): string => {
  const c = ansi(options.ansi === true)
  const card = report.scorecard
  const { meta } = report
  const held = card.default.payments + card.fallback.payments
  const labelWidth = 17
  const countWidth = Math.max(integer(card.default.payments).length, integer(card.fallback.payments).length)
  const line = (label: string, value: string) => `  ${label.padEnd(labelWidth)}${value}`
  const continuation = (value: string) => `  ${"".padEnd(labelWidth)}${value}`
  const payments = report.latency.payments
  const floor = report.nullFloor
  const processes = peaks(report.series.processes)
  const nameWidth = Math.max(0, ...processes.map((p) => p.process.length))
  const rssWidth = Math.max(0, ...processes.map((p) => numberFormat(1).format(p.rssMiB).length))
  const lines = [
    c.bold(
      `Arena · ${meta.profile} · ${meta.startedAt} · ${meta.durationSeconds} s · ${meta.backend} ×${meta.instances}`
        + ` via ${meta.loadBalancer} · ${meta.database}`
    ),
    line("score", c.bold(money(card.score))),
    line("net", `${money(card.net)}  (gross ${money(card.gross)} − fees ${money(card.fees)})`),
    line("p99 / bonus", `${ms(card.p99)} / ${percent(card.bonus)}`),
    line(
      "inconsistencies",
      card.inconsistencies > 0
        ? c.red(`${integer(card.inconsistencies)}  → fine ${percent(card.fine)} (−${money(card.fineAmount)})`)
        : c.green("0")
    ),
    line(
      "lag",
      card.slushFund
        ? c.red(`${integer(card.lag)}  SLUSH FUND (processors hold unacknowledged payments)`)
        : card.lag > 0
        ? c.yellow(`${integer(card.lag)}  (acknowledged but never reached a processor)`)
        : integer(card.lag)
    ),
    line(
      "default",
      `${integer(card.default.payments).padStart(countWidth)} payments  ${share(card.default.payments, held)}`
    ),
    line(
      "fallback",
      `${integer(card.fallback.payments).padStart(countWidth)} payments  ${share(card.fallback.payments, held)}`
    ),
    line(
      "POSTs",
      `${integer(card.successfulPayments)} ok / ${
        card.failedPayments > 0 ? c.yellow(integer(card.failedPayments)) : "0"
      } failed`
    ),
    line("POST p50 / p99", `${ms(payments.p50)} / ${ms(payments.p99)}`),
    ...(floor === undefined
      ? []
      : [
        line(
          "null floor",
          `p50 ${ms(floor.p50)} / p99 ${ms(floor.p99)}  (POST p99 ${signedMs(payments.p99 - floor.p99)}, all p99 ${
            signedMs(report.latency.all.p99 - floor.p99)
          })`
        )
      ]),
    ...processes.map((p, i) => {
      const value = `${p.process.padEnd(nameWidth)}  ${numberFormat(1).format(p.rssMiB).padStart(rssWidth)} MiB  ${
        c.dim(
          `anon ${numberFormat(1).format(p.anonMiB)} MiB, CPU peak ${numberFormat(0).format(p.cpuPercent)}%, mean ${
            numberFormat(0).format(p.cpuMean)
          }%`
        )
      }`
      return i === 0 ? line("peak RSS", value) : continuation(value)
    }),
    ...(meta.cgroups ?? []).map((group, i) => {
      const peak = group.peakMiB === undefined ? "peak unknown" : `${numberFormat(1).format(group.peakMiB)} MiB`
      const value = `${group.service.padEnd(nameWidth)}  ${peak} of ${numberFormat(0).format(group.limitMiB)} MiB${
        group.oomKills > 0 ? c.red(`  OOM-killed ${group.oomKills}×`) : ""
      }`
      return i === 0 ? line("cgroup memory", value) : continuation(value)
    })
  ]
  return lines.join("\n")
}

// == files

/** Writes arena-report.html and arena-report.json into outDir (created if missing) and returns their paths. */
export const writeReport: (
  report: ArenaReport,
  outDir: string
) => Effect.Effect<{ readonly html: string; readonly json: string }, ReportWriteError> = Effect.fn("Report.write")(
  function*(report: ArenaReport, outDir: string) {
    const dir = resolve(outDir)
    const html = join(dir, "arena-report.html")
    const json = join(dir, "arena-report.json")
    yield* Effect.tryPromise({
      try: () => mkdir(dir, { recursive: true }),
      catch: (cause) => new ReportWriteError({ message: `cannot create ${dir}`, path: dir, cause })
    })
    const page = yield* Effect.try({
      try: () => renderHtml(report),
      catch: (cause) => new ReportWriteError({ message: "cannot render the report page", path: html, cause })
    })
    yield* Effect.tryPromise({
      try: () => writeFile(html, page, "utf8"),
      catch: (cause) => new ReportWriteError({ message: `cannot write ${html}`, path: html, cause })
    })
    yield* Effect.tryPromise({
      try: () => writeFile(json, `${JSON.stringify(report, null, 2)}\n`, "utf8"),
      catch: (cause) => new ReportWriteError({ message: `cannot write ${json}`, path: json, cause })
    })
    return { html, json }
  }
)

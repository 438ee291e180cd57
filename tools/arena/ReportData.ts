/**
 * The report's data: the charts drawn from an arena run, and each process's peaks. A little over 400 lines:
 * `pageData` lists every chart's specification in one place, in the order the page shows them.
 */
import { integer, share } from "./Format.ts"
import type { ArenaReport, GcPauses, InstanceSample, ProcessSample, Stage, StageLatency } from "./Model.ts"

/** Each stage's part of the run's slowest 1 %, as "count (share)": the scorecard's and the page's column. */
export const slowestByStage = (stages: ReadonlyArray<StageLatency>): ReadonlyArray<string> => {
  const slowest = stages.reduce((sum, s) => sum + s.slowest, 0)
  return stages.map((s) => `${integer(s.slowest)} (${share(s.slowest, slowest)})`)
}

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

export const bandColors = {
  bothFailing: "rgba(153, 27, 27, 0.22)",
  defaultFailing: "rgba(239, 68, 68, 0.14)",
  fallbackFailing: "rgba(249, 115, 22, 0.16)",
  defaultSlow: "rgba(234, 179, 8, 0.16)"
}

/** A default delay at or above this is drawn as "slow". */
export const slowDelay = 1000

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

/** Each process's peak RSS, anonymous memory and CPU, and its mean CPU. */
export const peaks = (processes: ReadonlyArray<ProcessSample>) => {
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

type GcTotals = NonNullable<InstanceSample["gc"]>

/**
 * Each instance's garbage collections between its first and last sample that counted any: minor (scavenges) and
 * major (mark-compact) pauses, which stop the instance's event loop.
 */
export const gcPausesOf = (instances: ReadonlyArray<InstanceSample>) => {
  const span = new Map<string, { first: GcTotals; last: GcTotals }>()
  for (const sample of instances) {
    if (sample.gc === undefined || sample.gc.minor.count + sample.gc.major.count === 0) continue
    const seen = span.get(sample.instance)
    if (seen === undefined) span.set(sample.instance, { first: sample.gc, last: sample.gc })
    else seen.last = sample.gc
  }
  const between = (first: GcPauses, last: GcPauses): GcPauses => ({
    count: last.count - first.count,
    seconds: last.seconds - first.seconds
  })
  return [...span].sort(([a], [b]) => a.localeCompare(b)).map(([instance, { first, last }]) => ({
    instance,
    minor: between(first.minor, last.minor),
    major: between(first.major, last.major)
  }))
}

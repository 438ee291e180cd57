import { integer, money, numberFormat, percent, signed } from "./Format.ts"
import { median } from "./LatencyRecorder.ts"
import type { ArenaReport } from "./Model.ts"
import { peaks } from "./ReportData.ts"

/** One arena run, named by the setting it ran with. */
export interface LabelledReport {
  readonly label: string
  readonly source: string
  readonly report: ArenaReport
}

/** A stage's p99 divided by another stage's of the same run: what one phase costs, free of the machine's drift. */
export interface StageRatio {
  readonly stage: number
  readonly against: number
}

export interface RunFigures {
  readonly label: string
  readonly source: string
  readonly startedAt: string
  /** Money figures mean nothing for a backend that forwards nothing. */
  readonly forwards: boolean
  readonly score: number
  readonly net: number
  readonly p99: number
  readonly defaultShare: number
  readonly inconsistencies: number
  readonly lag: number
  /** The largest RSS any instance reached; undefined when no instance was sampled. */
  readonly peakRssMiB: number | undefined
  /** 100-ms periods in which the quota stopped an instance, all instances added; undefined without --limits. */
  readonly throttledPeriods: number | undefined
  readonly stageRatio: number | undefined
}

const instanceName = /^app\d+$/

export const figuresOf = ({ label, report, source }: LabelledReport, ratio?: StageRatio): RunFigures => {
  const { scorecard } = report
  const processed = scorecard.default.payments + scorecard.fallback.payments
  const instances = new Set(report.series.instances.map((sample) => sample.instance))
  const rss = peaks(report.series.processes)
    .filter((peak) => instances.has(peak.process) || instanceName.test(peak.process))
    .map((peak) => peak.rssMiB)
  const quotas = (report.meta.cgroups ?? []).filter((group) => instanceName.test(group.service))
  const stageP99 = (at: number) => report.latency.stages.find((stage) => stage.at === at)?.p99 ?? undefined
  const stage = ratio === undefined ? undefined : stageP99(ratio.stage)
  const against = ratio === undefined ? undefined : stageP99(ratio.against)
  return {
    label,
    source,
    startedAt: report.meta.startedAt,
    forwards: report.meta.backend !== "null",
    score: scorecard.score,
    net: scorecard.net,
    p99: scorecard.p99,
    defaultShare: processed > 0 ? scorecard.default.payments / processed : 0,
    inconsistencies: scorecard.inconsistencies,
    lag: scorecard.lag,
    peakRssMiB: rss.length > 0 ? Math.max(...rss) : undefined,
    throttledPeriods: quotas.length > 0 && quotas.every((group) => group.cpu !== undefined)
      ? quotas.reduce((sum, group) => sum + (group.cpu?.throttledPeriods ?? 0), 0)
      : undefined,
    stageRatio: stage !== undefined && against !== undefined && against > 0 ? stage / against : undefined
  }
}

export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

const spread = (values: ReadonlyArray<number | undefined>): Spread | undefined => {
  const known = values.filter((value): value is number => value !== undefined)
  return known.length === 0 ? undefined : { median: median(known), min: Math.min(...known), max: Math.max(...known) }
}

export interface GroupFigures {
  readonly label: string
  readonly runs: number
  readonly forwards: boolean
  readonly score: Spread | undefined
  readonly net: Spread | undefined
  readonly p99: Spread | undefined
  readonly defaultShare: Spread | undefined
  readonly peakRssMiB: Spread | undefined
  readonly throttledPeriods: Spread | undefined
  readonly stageRatio: Spread | undefined
  /** Every run of the group added up: the issue criteria ask for none in any run. */
  readonly inconsistencies: number
  readonly maxLag: number
}

/** The runs of each label, in the order the labels first appear. */
export const groupsOf = (runs: ReadonlyArray<RunFigures>): ReadonlyArray<GroupFigures> => {
  const labels = [...new Set(runs.map((run) => run.label))]
  return labels.map((label) => {
    const group = runs.filter((run) => run.label === label)
    const forwarded = (pick: (run: RunFigures) => number) =>
      spread(group.map((run) => run.forwards ? pick(run) : undefined))
    return {
      label,
      runs: group.length,
      forwards: group.some((run) => run.forwards),
      score: forwarded((run) => run.score),
      net: forwarded((run) => run.net),
      p99: spread(group.map((run) => run.p99)),
      defaultShare: forwarded((run) => run.defaultShare),
      peakRssMiB: spread(group.map((run) => run.peakRssMiB)),
      throttledPeriods: spread(group.map((run) => run.throttledPeriods)),
      stageRatio: spread(group.map((run) => run.stageRatio)),
      inconsistencies: group.reduce((sum, run) => sum + run.inconsistencies, 0),
      maxLag: Math.max(...group.map((run) => run.lag))
    }
  })
}

const dash = "–"
const decimals = (digits: number) => numberFormat(digits).format
const or = <A>(value: A | undefined, format: (value: A) => string) => value === undefined ? dash : format(value)
const ranged = (value: Spread | undefined, format: (value: number) => string) =>
  value === undefined
    ? dash
    : value.min === value.max
    ? format(value.median)
    : `${format(value.median)} (${format(value.min)}–${format(value.max)})`

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) =>
  [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n")

const ratioName = (ratio: StageRatio | undefined) => ratio === undefined ? undefined : `${ratio.stage}/${ratio.against}`

/** The runs one per row, then each label's median and range, and each label's medians against the first label's. */
export const renderComparison = (runs: ReadonlyArray<RunFigures>, ratio?: StageRatio): string => {
  const ratioColumn = ratioName(ratio)
  const extra = ratioColumn === undefined ? [] : [`stage ${ratioColumn} p99`]
  const ratioOf = (value: number | undefined) => ratioColumn === undefined ? [] : [or(value, decimals(2))]
  const runRows = runs.map((run) => [
    run.label,
    run.source,
    run.startedAt.slice(11, 16),
    run.forwards ? money(run.score) : dash,
    run.forwards ? money(run.net) : dash,
    decimals(2)(run.p99),
    run.forwards ? percent(run.defaultShare, 1) : dash,
    run.forwards ? `${integer(run.inconsistencies)} / ${integer(run.lag)}` : dash,
    or(run.peakRssMiB, decimals(1)),
    or(run.throttledPeriods, integer),
    ...ratioOf(run.stageRatio)
  ])
  const groups = groupsOf(runs)
  const groupRows = groups.map((group) => [
    group.label,
    integer(group.runs),
    ranged(group.score, money),
    ranged(group.net, money),
    ranged(group.p99, decimals(2)),
    ranged(group.defaultShare, (share) => percent(share, 1)),
    group.forwards ? `${integer(group.inconsistencies)} / ${integer(group.maxLag)}` : dash,
    ranged(group.peakRssMiB, decimals(1)),
    ranged(group.throttledPeriods, integer),
    ...(ratioColumn === undefined ? [] : [ranged(group.stageRatio, decimals(2))])
  ])
  const [first, ...others] = groups
  const delta = (a: Spread | undefined, b: Spread | undefined, format: (value: number) => string) =>
    a === undefined || b === undefined ? dash : signed(a.median - b.median, format)
  const deltaRows = first === undefined ? [] : others.map((group) => [
    `${group.label} − ${first.label}`,
    delta(group.score, first.score, money),
    delta(group.net, first.net, money),
    delta(group.p99, first.p99, decimals(2)),
    delta(group.peakRssMiB, first.peakRssMiB, decimals(1)),
    ...(ratioColumn === undefined ? [] : [delta(group.stageRatio, first.stageRatio, decimals(2))])
  ])
  return [
    table(
      [
        "label",
        "run",
        "start",
        "score",
        "net",
        "p99 ms",
        "default",
        "incons. / lag",
        "peak RSS MiB",
        "throttled",
        ...extra
      ],
      runRows
    ),
    "",
    table(
      [
        "label",
        "runs",
        "score",
        "net",
        "p99 ms",
        "default",
        "incons. / max lag",
        "peak RSS MiB",
        "throttled",
        ...extra
      ],
      groupRows
    ),
    ...(deltaRows.length === 0 ? [] : [
      "",
      table(["medians", "score", "net", "p99 ms", "peak RSS MiB", ...extra], deltaRows)
    ])
  ].join("\n")
}

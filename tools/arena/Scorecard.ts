/** The arena's scorecard for the terminal. */
import { integer, money, ms, numberFormat, percent, share, signedMs } from "./Format.ts"
import type { ArenaReport, GcPauses, GeneratorGc, ProcessorCondition, StageLatency } from "./Model.ts"
import { gcPausesOf, peaks, slowestByStage } from "./ReportData.ts"

const ansi = (enabled: boolean) => {
  const wrap = (code: string) => (text: string) => enabled ? `\u001b[${code}m${text}\u001b[0m` : text
  return { bold: wrap("1"), red: wrap("31"), yellow: wrap("33"), green: wrap("32"), dim: wrap("2") }
}

const generatorPauses = (gc: GeneratorGc) =>
  (["minor", "major"] as const).map((kind) => {
    const { count, longestMs, seconds } = gc[kind]
    return `${kind} ${integer(count)} (${numberFormat(2).format(seconds)} s, longest ${
      numberFormat(1).format(longestMs)
    } ms)`
  }).join(", ")

const condition = ({ delay, failure }: ProcessorCondition) => `${integer(delay)} ms${failure ? " failing" : ""}`

/** A table, one row per stage: where it starts, its p99, and its part of the requests slower than the run's p99. */
const stageRows = (stages: ReadonlyArray<StageLatency>): ReadonlyArray<string> => {
  if (stages.length === 0) return []
  const slowest = slowestByStage(stages)
  const rows = [
    ["from", "p99", "of the slowest 1%", "default · fallback"],
    ...stages.map((s, i) => [
      `${integer(s.at)} s`,
      s.p99 === null ? "–" : ms(s.p99),
      slowest[i],
      `${condition(s.default)} · ${condition(s.fallback)}`
    ])
  ]
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column].length)))
  return rows.map((row) =>
    `${row[0].padEnd(widths[0])}  ${row[1].padStart(widths[1])}  ${row[2].padStart(widths[2])}  ${row[3]}`
  )
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
    ...stageRows(report.latency.stages).map((row, i) => i === 0 ? line("by stage", row) : continuation(row)),
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
    }),
    // a group nothing ran in (postgres, with DATABASE_URL) has nothing to say
    ...(meta.cgroups ?? []).flatMap(({ service, cpu }) =>
      cpu === undefined || cpu.periods === 0 ? [] : [{ service, cpu }]
    )
      .map(({ service, cpu }, i) => {
        const value = `${service.padEnd(nameWidth)}  throttled in ${integer(cpu.throttledPeriods)} of ${
          integer(cpu.periods)
        } periods, ${integer(cpu.throttledMs)} ms stopped`
        return i === 0 ? line("cgroup CPU", value) : continuation(value)
      }),
    ...gcPausesOf(report.series.instances).map((gc, i) => {
      const pauses = (kind: string, { count, seconds }: GcPauses) =>
        `${kind} ${integer(count)} (${numberFormat(2).format(seconds)} s)`
      const value = `${gc.instance.padEnd(nameWidth)}  ${pauses("minor", gc.minor)}, ${pauses("major", gc.major)}`
      return i === 0 ? line("GC pauses", value) : continuation(value)
    }),
    ...(meta.generatorGc === undefined ? [] : [line("generator GC", generatorPauses(meta.generatorGc))])
  ]
  return lines.join("\n")
}

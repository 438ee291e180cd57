/**
 * The arena's report page: self-contained HTML, with uPlot, the page's own CSS and script (`report/`) and the data
 * inlined, so nothing is fetched at view time.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { integer, money, ms, numberFormat, percent, share, signedMs } from "./Format.ts"
import type { ArenaReport, CheckResult, LatencySummary, StageLatency } from "./Model.ts"
import { bandColors, type ChartSpec, pageData, slowDelay, slowestByStage } from "./ReportData.ts"

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

// == the page's own assets

/**
 * The page's script. Plain JS, no backticks and no template holes, run after uPlot: it builds one uPlot per chart
 * with data, shades the stage bands, exposes `window.__charts` and sets `window.__reportReady`.
 */
let pageAssets: { readonly css: string; readonly script: string } | undefined

const ownAssets = () => {
  if (pageAssets === undefined) {
    const read = (file: string) => readFileSync(new URL(`report/${file}`, import.meta.url), "utf8")
    pageAssets = { css: read("report.css"), script: read("report.js") }
  }
  return pageAssets
}

// == HTML

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

const stagesTableHtml = (stages: ReadonlyArray<StageLatency>) => {
  const slowest = slowestByStage(stages)
  return stages.length === 0 ? "" : `<details id="stages-table"><summary>stages</summary><table class="grid">
<thead><tr><th>from (s)</th><th>default delay</th><th>default failing</th><th>fallback delay</th><th>fallback failing</th><th>requests</th><th>p99</th><th>of the slowest 1%</th></tr></thead>
<tbody>${
    stages.map((s, i) =>
      row([
        integer(s.at),
        `${integer(s.default.delay)} ms`,
        s.default.failure ? "yes" : "no",
        `${integer(s.fallback.delay)} ms`,
        s.fallback.failure ? "yes" : "no",
        integer(s.requests),
        s.p99 === null ? "–" : ms(s.p99),
        slowest[i]
      ])
    ).join("")
  }</tbody></table></details>`
}

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

/** A self-contained page: uPlot's JS and CSS and the report's data are inlined, nothing is fetched at view time. */
export const renderHtml = (report: ArenaReport): string => {
  const { css: uplotCss, js: uplotJs } = uplotAssets()
  const { css, script: clientScript } = ownAssets()
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
${stagesTableHtml(report.latency.stages)}
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

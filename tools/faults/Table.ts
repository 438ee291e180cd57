import type { ScenarioResult } from "./Scenarios.ts"

const figure = (n: number) => Number.isNaN(n) ? "n/a" : String(n)

/** The matrix as a Markdown table: one row per scenario, its notes and failed checks in the last column. */
export const matrixTable = (results: ReadonlyArray<ScenarioResult>) => {
  const header = "| # | scenario | accepted | processed | lost | processed twice | inconsistencies | notes |"
  const rule = "|---|---|---:|---:|---:|---:|---:|---|"
  const rows = results.map((r) => {
    const failed = r.checks.filter((c) => !c.ok).map((c) => `**FAILED: ${c.name} (${c.detail})**`)
    const notes = [...r.notes, ...failed].join("; ").replaceAll("|", "\\|")
    return `| ${r.id} | ${r.scenario} | ${r.accepted} | ${r.processed} | ${r.lost} | ${r.twice} | ${
      figure(r.inconsistencies)
    } | ${notes} |`
  })
  return [header, rule, ...rows].join("\n")
}

/** Whether a result is what the matrix expects: nothing lost, nothing twice, no inconsistency, every check held. */
export const isGreen = (result: ScenarioResult) =>
  result.lost === 0 && result.twice === 0 && result.inconsistencies === 0 && result.checks.every((c) => c.ok)

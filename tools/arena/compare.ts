/**
 * `pnpm arena:compare [--stage-ratio 150/120] [LABEL=]RUN ...`
 *
 * Puts arena runs side by side: one row per run (score, net, p99, default share, inconsistencies and lag, the
 * instances' peak RSS, the periods the CPU quota stopped them), then each label's median and range, then each label's
 * medians against the first label's. RUN is an --out folder or its arena-report.json; without `LABEL=` a run is
 * labelled by its folder's name less a trailing `-N` (`on-1`, `on-2` → `on`), so runs repeated under one setting
 * group together. `--stage-ratio 150/120` adds the p99 of the stage starting at 150 s over the p99 of the stage
 * starting at 120 s, per run: what one phase costs, measured inside each run and so not moved by the machine's drift
 * between runs.
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { parseArgs } from "node:util"
import { figuresOf, type LabelledReport, renderComparison, type StageRatio } from "./Comparison.ts"
import type { ArenaReport } from "./Model.ts"

const { positionals, values } = parseArgs({
  args: process.argv.slice(2).filter((arg, index) => index > 0 || arg !== "--"),
  options: { "stage-ratio": { type: "string" } },
  allowPositionals: true
})

const fail = (message: string): never => {
  console.error(`${message} (usage: the comment atop tools/arena/compare.ts)`)
  process.exit(2)
}

const parseRatio = (text: string): StageRatio => {
  const match = /^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(text)
  return match === null
    ? fail(`--stage-ratio takes two stage starts in seconds, like 150/120, not ${text}`)
    : { stage: Number(match[1]), against: Number(match[2]) }
}

const load = (arg: string): LabelledReport => {
  const assignment = /^([^=/]+)=(.+)$/.exec(arg)
  const path = assignment === null ? arg : assignment[2]
  if (!existsSync(path)) return fail(`no such run: ${path}`)
  const file = statSync(path).isDirectory() ? join(path, "arena-report.json") : path
  if (!existsSync(file)) return fail(`${path} holds no arena-report.json`)
  const folder = basename(file === path ? dirname(path) : path)
  return {
    label: assignment === null ? folder.replace(/-\d+$/, "") : assignment[1],
    source: folder,
    report: JSON.parse(readFileSync(file, "utf8")) as ArenaReport
  }
}

if (positionals.length === 0) fail("no runs to compare")
const ratio = values["stage-ratio"] === undefined ? undefined : parseRatio(values["stage-ratio"])
console.log(renderComparison(positionals.map((arg) => figuresOf(load(arg), ratio)), ratio))

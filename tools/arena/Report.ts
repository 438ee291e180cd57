/** The arena's report files: the self-contained HTML page (`ReportPage.ts`) and the raw report as JSON. */
import { Data, Effect } from "effect"
import { mkdir, writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import type { ArenaReport } from "./Model.ts"
import { renderHtml } from "./ReportPage.ts"

export class ReportWriteError extends Data.TaggedError("ReportWriteError")<{
  readonly message: string
  readonly path: string
  readonly cause: unknown
}> {}

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

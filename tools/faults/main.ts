/**
 * `pnpm faults [--profile full|ci] [--only 1,5,6a] [--no-build]`: runs the fault matrix against the built service
 * (`dist/main.js`) and two processor simulators, on `DATABASE_URL` (a fresh schema per scenario) or else a PGlite
 * server per scenario, and prints one table. Exits 1 when a scenario loses a payment, processes one twice, reports
 * an inconsistency or fails one of its checks.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Option, Schema } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { ScenarioHttp } from "../load/ScenarioHttp.ts"
import { startPglite } from "./FaultDatabase.ts"
import type { FaultSetup } from "./Harness.ts"
import { profiles, runScenario, type ScenarioResult, scenarios } from "./Scenarios.ts"
import { isGreen, matrixTable } from "./Table.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")

const { values } = parseArgs({
  args: globalThis.process.argv.slice(2).filter((arg, index) => index > 0 || arg !== "--"),
  options: {
    profile: { type: "string", default: "full" },
    only: { type: "string" },
    "no-build": { type: "boolean", default: false }
  }
})

class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

const program = Effect.gen(function*() {
  const profile = values.profile === "full" || values.profile === "ci" ? profiles[values.profile] : undefined
  if (profile === undefined) return yield* new UsageError({ message: `unknown profile ${values.profile}` })
  const only = values.only?.split(",").map((id) => id.trim())
  const chosen = scenarios.filter((s) => only === undefined || only.includes(s.id))
  if (chosen.length === 0) return yield* new UsageError({ message: `no scenario matches --only ${values.only}` })
  if (!values["no-build"]) {
    const build = spawnSync(globalThis.process.execPath, [join(root, "scripts/build.ts")], {
      cwd: root,
      stdio: "inherit"
    })
    if (build.status !== 0) return yield* new UsageError({ message: "pnpm build failed" })
  }
  const dir = mkdtempSync(join(tmpdir(), "faults-"))
  const env = { PATH: globalThis.process.env.PATH }
  const databaseUrl = yield* Config.option(Config.String("DATABASE_URL"))
  const setup: FaultSetup = {
    entry: join(root, "dist/main.js"),
    dir,
    database: Option.isSome(databaseUrl)
      ? { _tag: "Postgres", url: databaseUrl.value }
      : yield* startPglite(dir, env),
    env
  }
  yield* Console.log(
    `fault matrix, profile ${profile.name}, ${profile.rate} payments/s, on ${
      setup.database._tag === "Postgres" ? "PostgreSQL (DATABASE_URL)" : "PGlite"
    }; logs in ${setup.dir}`
  )
  const results: Array<ScenarioResult> = []
  for (const scenario of chosen) {
    yield* Console.log(`running ${scenario.id}: ${scenario.title}`)
    const result = yield* runScenario(scenario, setup, profile)
    results.push(result)
    yield* Console.log(
      `  ${isGreen(result) ? "ok" : "NOT OK"}: accepted ${result.accepted}, lost ${result.lost}, ` +
        `twice ${result.twice}, inconsistencies ${result.inconsistencies}`
    )
  }
  yield* Console.log(`\n${matrixTable(results)}\n`)
  if (!results.every(isGreen)) return yield* new UsageError({ message: "the matrix is not green" })
})

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(ScenarioHttp.layer)))

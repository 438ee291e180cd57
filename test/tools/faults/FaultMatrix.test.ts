import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type DatabaseServer, startPglite } from "../../../tools/faults/FaultDatabase.ts"
import type { FaultSetup } from "../../../tools/faults/Harness.ts"
import { profiles, runScenario, scenarios } from "../../../tools/faults/Scenarios.ts"
import { matrixTable } from "../../../tools/faults/Table.ts"
import { ScenarioHttp } from "../../../tools/load/ScenarioHttp.ts"
import { backendName, databaseUrl } from "../../support/database.ts"

/** The scenarios' common ground: `node src/main.ts`, and PostgreSQL at DATABASE_URL or one PGlite for the file. */
class Setup extends Context.Service<Setup, FaultSetup>()("test/tools/faults/Setup") {
  static readonly layer = Layer.effect(
    Setup,
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "faults-test-"))
      const env = { PATH: process.env.PATH }
      const database: DatabaseServer = Option.isSome(databaseUrl)
        ? { _tag: "Postgres", url: databaseUrl.value }
        : yield* startPglite(dir, env)
      return Setup.of({ entry: "src/main.ts", dir, database, env })
    })
  )
}

describe(`the fault matrix (ci profile) on ${backendName}`, () => {
  layer(Layer.mergeAll(ScenarioHttp.layer, Setup.layer), { excludeTestServices: true, timeout: "90 seconds" })((it) => {
    for (const scenario of scenarios) {
      it.effect(
        `${scenario.id}. ${scenario.title}: nothing lost, nothing twice, the summary exact`,
        () =>
          Effect.gen(function*() {
            const setup = yield* Setup
            const result = yield* runScenario(scenario, setup, profiles.ci)
            const table = matrixTable([result])
            assert.isAbove(result.accepted, 0, table)
            assert.isTrue(result.drained, `drained (${table}; logs in ${setup.dir})`)
            assert.strictEqual(result.lost, 0, `lost (${table})`)
            assert.strictEqual(result.twice, 0, `processed twice (${table})`)
            assert.strictEqual(result.inconsistencies, 0, `inconsistencies (${table})`)
            for (const check of result.checks) assert.isTrue(check.ok, `${check.name}: ${check.detail} (${table})`)
          }),
        { timeout: 90_000 }
      )
    }
  })
})

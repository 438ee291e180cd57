import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { existsSync } from "node:fs"
import { mkdtemp, readFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { arena, type ArenaOptions } from "../../../tools/arena/Arena.ts"
import type { ArenaReport } from "../../../tools/arena/Model.ts"
import { customize, profiles } from "../../../tools/arena/Profiles.ts"
import { gcPausesOf } from "../../../tools/arena/ReportData.ts"
import { freePort } from "../../support/process.ts"

const root = resolve(import.meta.dirname, "../../..")
const hasNginx = existsSync("/usr/sbin/nginx") || existsSync("/usr/bin/nginx")

const options = Effect.fn(function*(overrides: Partial<ArenaOptions>) {
  const out = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "arena-test-")))
  const lines: Array<string> = []
  return {
    lines,
    options: {
      root,
      profile: profiles.smoke,
      instances: 1,
      backend: { _tag: "Service" },
      out,
      port: yield* freePort,
      limits: false,
      compose: "docker-compose.yaml",
      nodeFlags: Option.none(),
      databaseUrl: Option.fromNullishOr(process.env.DATABASE_URL),
      env: { PATH: process.env.PATH ?? "" },
      floor: Option.none(),
      scrapeInterval: 1,
      log: (line: string) => Effect.sync(() => lines.push(line)),
      ...overrides
    } satisfies ArenaOptions
  }
})

describe("the arena", () => {
  it.live(
    "reports the inconsistencies of a backend that records before the processor answers",
    () =>
      Effect.gen(function*() {
        const { options: run } = yield* options({
          backend: { _tag: "Script", file: join(root, "test/tools/arena/fixtures/WrongBackend.ts") },
          profile: customize(profiles.smoke, {
            duration: 12,
            vus: 40,
            stages: [
              { at: 0, default: { delay: 0, failure: false }, fallback: { delay: 0, failure: false } },
              { at: 2, default: { delay: 0, failure: true }, fallback: { delay: 0, failure: false } }
            ]
          })
        })
        const report = yield* arena(run)
        assert.isAbove(report.scorecard.inconsistencies, 0)
        assert.strictEqual(report.scorecard.fine, 0.35)
        assert.isAbove(report.scorecard.lag, 0, "the payments the failing processor refused are lost")
        assert.isTrue(report.series.checks.some((c) => c.inconsistencies > 0))
      }),
    { timeout: 90_000 }
  )

  it.live.skipIf(!hasNginx)(
    "runs the smoke profile against two instances of the service behind nginx with no inconsistency",
    () =>
      Effect.gen(function*() {
        // the instances run dist/main.js, which the suite's global setup built (test/support/bundle.ts)
        const { lines, options: run } = yield* options({ instances: 2, scrapeInterval: 0 })
        const report = yield* arena(run)
        const card = report.scorecard
        assert.strictEqual(
          card.inconsistencies,
          0,
          JSON.stringify(report.series.checks.filter((c) => c.inconsistencies))
        )
        assert.strictEqual(card.failedPayments, 0)
        assert.isFalse(card.slushFund)
        assert.isAbove(card.successfulPayments, 1500)
        assert.isAbove(card.default.payments, 0)
        assert.isAbove(card.fallback.payments, 0, "default is too slow for the last tenth of the smoke timeline")
        assert.strictEqual(report.meta.loadBalancer, "nginx")
        assert.strictEqual(report.series.checks.length, 8)
        const scrapes = report.series.instances
        assert.deepStrictEqual(scrapes.map((s) => s.instance).sort(), ["app1", "app1", "app2", "app2"], "start and end")
        assert.isTrue(scrapes.some((s) => s.instance === "app2" && s.recordedDefault > 0))
        const health = report.meta.healthCalls
        assert.isTrue(health !== undefined && health.default > 0 && health.fallback > 0, JSON.stringify(health))
        const gc = gcPausesOf(report.series.instances)
        assert.sameMembers(gc.map((g) => g.instance), ["app1", "app2"], "GC counts read from /metrics")
        assert.isTrue(gc.every((g) => g.minor.count > 0 && g.minor.seconds > 0), JSON.stringify(gc))
        const generatorGc = report.meta.generatorGc
        assert.isTrue(generatorGc !== undefined && generatorGc.minor.count > 0, JSON.stringify(generatorGc))
        assert.includeMembers([...new Set(report.series.processes.map((p) => p.process))], [
          "app1",
          "app2",
          "nginx",
          "processor-default",
          "processor-fallback"
        ])
        const written = JSON.parse(yield* Effect.promise(() => readFile(join(run.out, "arena-report.json"), "utf8")))
        assert.strictEqual((written as ArenaReport).scorecard.score, card.score)
        assert.isTrue(existsSync(join(run.out, "arena-report.html")))
        assert.isTrue(lines.some((l) => l.includes("inconsistencies")), "the scorecard is printed")
      }),
    { timeout: 120_000 }
  )
})

import { afterAll, assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { attachValues, envAssignments } from "../../../tools/process/Arguments.ts"

const options = { "node-flags": { type: "string" }, limits: { type: "boolean" } } as const
const parse = (args: ReadonlyArray<string>) => parseArgs({ args: attachValues(args, ["node-flags"]), options }).values

describe("attachValues", () => {
  it("lets a named option take a value that starts with a dash, which parseArgs alone refuses", () => {
    const args = ["--node-flags", "--max-semi-space-size=2 --single-threaded-gc", "--limits"]
    assert.throws(() => parseArgs({ args, options }), /ambiguous/)
    assert.deepStrictEqual(parse(args), { "node-flags": "--max-semi-space-size=2 --single-threaded-gc", limits: true })
  })

  it("leaves the other spellings, the other options and a missing value as they were", () => {
    assert.deepStrictEqual(parse(["--node-flags=--jitless"]), { "node-flags": "--jitless" })
    assert.deepStrictEqual(parse(["--node-flags", "--jitless=1", "--limits"])["node-flags"], "--jitless=1")
    assert.deepStrictEqual(attachValues(["--limits", "--out", "dir"], ["node-flags"]), ["--limits", "--out", "dir"])
    assert.deepStrictEqual(attachValues(["--limits", "--node-flags"], ["node-flags"]), ["--limits", "--node-flags"])
  })

  const root = join(import.meta.dirname, "..", "..", "..")
  const commands = [
    {
      script: "tools/arena/main.ts",
      args: ["--profile", "no-such-profile"],
      refusal: "unknown profile no-such-profile"
    },
    { script: "scripts/bench/cpu.ts", args: ["--only", "no-such-target"], refusal: "unknown target no-such-target" }
  ]
  for (const { args, refusal, script } of commands) {
    it(`is what ${script} reads its command line through: \`--node-flags "--…"\`, as the README writes it`, () => {
      const run = spawnSync(process.execPath, [join(root, script), ...args, "--node-flags", "--single-threaded-gc"], {
        cwd: root,
        encoding: "utf8",
        timeout: 20_000
      })
      assert.notInclude(run.stderr, "ERR_PARSE_ARGS")
      assert.include(run.stderr + run.stdout, refusal)
      assert.strictEqual(run.status, 1)
    })
  }
})

describe("envAssignments", () => {
  it("reads NAME=VALUE entries, the value whole: spaces, '=' and nothing at all", () => {
    assert.deepStrictEqual(
      envAssignments(["RECORD_BATCH_INTERVAL=200 millis", "DATABASE_URL=postgres://u@h/db?a=b", "EMPTY=", "_X1=y"]),
      { RECORD_BATCH_INTERVAL: "200 millis", DATABASE_URL: "postgres://u@h/db?a=b", EMPTY: "", _X1: "y" }
    )
    assert.deepStrictEqual(envAssignments(["A=1", "A=2"]), { A: "2" })
    assert.deepStrictEqual(envAssignments([]), {})
  })

  it("refuses an entry that is not an assignment, naming it", () => {
    for (const entry of ["NAME", "=value", "1ST=x", "A B=c", ""]) {
      assert.throws(() => envAssignments([entry]), `not an environment assignment NAME=VALUE: ${JSON.stringify(entry)}`)
    }
  })

  const root = join(import.meta.dirname, "..", "..", "..")
  const staleCheckout = mkdtempSync(join(tmpdir(), "baseline-"))
  for (const folder of ["src", "migrations", "scripts", "dist"]) mkdirSync(join(staleCheckout, folder))
  writeFileSync(join(staleCheckout, "src", "main.ts"), "export {}\n")
  // the checkout's own reading of its inputs decides, whatever this checkout's would say
  writeFileSync(
    join(staleCheckout, "scripts", "build-inputs.ts"),
    "export const staleBundle = (root: string) => `the checkout's own check failed in ${root}`\n"
  )
  writeFileSync(join(staleCheckout, "dist", "main.js"), "\n")
  writeFileSync(join(staleCheckout, "dist", "inputs.sha256"), "not the digest of these sources\n")
  const refusals = [
    {
      what: "an --env entry without =",
      args: ["--only", "service", "--env", "RECORD_BATCH_INTERVAL"],
      refusal: "not an environment assignment"
    },
    {
      what: "a --baseline-env entry without a name",
      args: ["--only", "baseline", "--baseline-env", "=1"],
      refusal: "not an environment assignment"
    },
    {
      what: "a baseline folder with no bundle",
      args: ["--only", "service,baseline", "--baseline", join(root, "test")],
      refusal: `the baseline target runs ${join(root, "test", "main.js")}, which is not there: build it first`
    },
    {
      what: "a baseline checkout whose own digest says its dist/ is stale",
      args: ["--only", "service,baseline", "--baseline", join(staleCheckout, "dist")],
      refusal: `the checkout's own check failed in ${staleCheckout}; build it in ${staleCheckout} first`
    }
  ]
  afterAll(() => rmSync(staleCheckout, { recursive: true, force: true }))
  for (const { args, refusal, what } of refusals) {
    it(`is how bench:cpu reads --env and --baseline-env; it refuses, before starting anything, ${what}`, () => {
      const run = spawnSync(process.execPath, [join(root, "scripts/bench/cpu.ts"), ...args], {
        cwd: root,
        encoding: "utf8",
        timeout: 20_000
      })
      assert.include(run.stderr + run.stdout, refusal)
      assert.notInclude(run.stdout, "database:")
      assert.strictEqual(run.status, 1)
    })
  }
})

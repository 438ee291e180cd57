import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { attachValues } from "../../../tools/process/Arguments.ts"

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

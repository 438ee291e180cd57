import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const projectRoot = resolve(import.meta.dirname, "../..")
const script = join(projectRoot, "scripts/gen-module.ts")
const bin = (name: string) => join(projectRoot, "node_modules/.bin", name)

// the child vitest must not believe it runs inside this test's worker
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VITEST")))

interface Run {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

const run = (command: string, args: ReadonlyArray<string>, cwd = projectRoot): Run => {
  const result = spawnSync(command, args, { cwd, env: childEnv, encoding: "utf8", timeout: 25_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

const generate = (root: string, ...args: Array<string>) => run(process.execPath, [script, ...args, "--root", root])

const output = (result: Run) => `${result.stdout}\n${result.stderr}`

const roots: Array<string> = []

/** A throwaway project: the real node_modules, tsconfig, vitest, dprint and oxlint configs, and nothing else. */
const makeRoot = () => {
  const root = mkdtempSync(join(tmpdir(), "gen-module-"))
  roots.push(root)
  symlinkSync(join(projectRoot, "node_modules"), join(root, "node_modules"), "dir")
  writeFileSync(join(root, "package.json"), JSON.stringify({ type: "module", private: true }))
  const tsconfig = JSON.parse(readFileSync(join(projectRoot, "tsconfig.json"), "utf8"))
  writeFileSync(join(root, "tsconfig.json"), JSON.stringify({ ...tsconfig, include: ["src", "test"] }, null, 2))
  for (const file of ["vitest.config.ts", "dprint.json", ".oxlintrc.json"]) {
    writeFileSync(join(root, file), readFileSync(join(projectRoot, file)))
  }
  return root
}

const read = (root: string, file: string) => readFileSync(join(root, file), "utf8")

interface VitestReport {
  readonly numPassedTests: number
  readonly numFailedTests: number
  readonly testResults: ReadonlyArray<{ readonly name: string; readonly status: string }>
}

const vitest = (root: string): { readonly result: Run; readonly report: VitestReport } => {
  const reportFile = join(root, "vitest-report.json")
  rmSync(reportFile, { force: true })
  const result = run(bin("vitest"), ["run", "--reporter=json", `--outputFile=${reportFile}`], root)
  assert.isTrue(existsSync(reportFile), `vitest wrote no report:\n${output(result)}`)
  return { result, report: JSON.parse(readFileSync(reportFile, "utf8")) }
}

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true })
})

describe("gen-module", () => {
  let root = ""
  const generated: Array<Run> = []

  beforeAll(() => {
    root = makeRoot()
    generated.push(generate(root, "payments/refunds"), generate(root, "ledger/sub/refund-requests"))
  })

  it("writes the service and its test, named after the last segment", () => {
    const [refunds] = generated
    assert.strictEqual(refunds.status, 0, output(refunds))
    assert.include(refunds.stdout, join(root, "src/payments/Refunds.ts"))
    assert.include(refunds.stdout, join(root, "test/payments/Refunds.test.ts"))

    const service = read(root, "src/payments/Refunds.ts")
    assert.include(service, "export class Refunds extends Context.Service<Refunds, {")
    assert.include(service, `}>()("app/payments/Refunds") {`)
    assert.include(service, "static readonly layer: Layer.Layer<Refunds> = Layer.effect(")
    assert.include(service, `Effect.fn("Refunds.find")`)
    assert.include(
      service,
      `export class RefundsNotFound extends Schema.TaggedError<RefundsNotFound>()("RefundsNotFound"`
    )

    const test = read(root, "test/payments/Refunds.test.ts")
    assert.include(test, `import { Refunds, RefundsNotFound } from "../../src/payments/Refunds.ts"`)
    assert.include(test, "Effect.flip(")
  })

  it("converts a dashed name to PascalCase inside nested folders", () => {
    const [, nested] = generated
    assert.strictEqual(nested.status, 0, output(nested))
    const service = read(root, "src/ledger/sub/RefundRequests.ts")
    assert.include(service, "export class RefundRequests extends Context.Service<RefundRequests, {")
    assert.include(service, `}>()("app/ledger/sub/RefundRequests") {`)
    assert.include(
      read(root, "test/ledger/sub/RefundRequests.test.ts"),
      `from "../../../src/ledger/sub/RefundRequests.ts"`
    )
  })

  it("generates code that typechecks", () => {
    const result = run(bin("tsc"), ["-p", "tsconfig.json"], root)
    assert.strictEqual(result.status, 0, output(result))
  })

  it("generates code that passes the formatter and the linter", () => {
    const dprint = run(bin("dprint"), ["check", "src/**/*.ts", "test/**/*.ts"], root)
    assert.strictEqual(dprint.status, 0, output(dprint))
    const oxlint = run(bin("oxlint"), ["src", "test"], root)
    assert.strictEqual(oxlint.status, 0, output(oxlint))
  })

  it("generates tests that pass against the generated service", () => {
    const { report, result } = vitest(root)
    assert.strictEqual(result.status, 0, output(result))
    assert.strictEqual(report.numFailedTests, 0)
    assert.strictEqual(report.numPassedTests, 6)
    assert.sameMembers(report.testResults.map((file) => file.name), [
      join(root, "test/payments/Refunds.test.ts"),
      join(root, "test/ledger/sub/RefundRequests.test.ts")
    ])
  })
})

describe("gen-module generated tests", () => {
  it("fail when the service does not keep what it saves", () => {
    const root = makeRoot()
    assert.strictEqual(generate(root, "payments/refunds").status, 0)
    const file = join(root, "src/payments/Refunds.ts")
    const service = readFileSync(file, "utf8")
    const broken = service.replace("yield* Ref.update(entries, HashMap.set(entry.id, entry))", "yield* Effect.void")
    assert.notStrictEqual(broken, service, "the template no longer has the line this test breaks")
    writeFileSync(file, broken)

    const { report, result } = vitest(root)
    assert.strictEqual(result.status, 1, output(result))
    assert.strictEqual(report.numFailedTests, 2)
    assert.strictEqual(report.numPassedTests, 1)
  })
})

describe("gen-module refusals", () => {
  let root = ""

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "gen-module-"))
    roots.push(root)
  })

  const files = (dir: string): Array<string> =>
    existsSync(join(root, dir)) ? readdirSync(join(root, dir), { recursive: true, encoding: "utf8" }).sort() : []

  it("refuses to overwrite an existing module and leaves it untouched", () => {
    assert.strictEqual(generate(root, "billing/invoices").status, 0)
    const servicePath = join(root, "src/billing/Invoices.ts")
    writeFileSync(servicePath, "// edited by hand\n")

    const again = generate(root, "billing/invoices")
    assert.strictEqual(again.status, 1, output(again))
    assert.include(again.stderr, servicePath)
    assert.include(again.stderr, join(root, "test/billing/Invoices.test.ts"))
    assert.strictEqual(again.stdout, "")
    assert.strictEqual(readFileSync(servicePath, "utf8"), "// edited by hand\n")
  })

  it("writes nothing when only the test file exists", () => {
    assert.strictEqual(generate(root, "billing/credits", "--no-test").status, 0)
    rmSync(join(root, "src/billing/Credits.ts"))
    writeFileSync(join(root, "test/billing/Credits.test.ts"), "// kept\n", { flag: "wx" })

    const result = generate(root, "billing/credits")
    assert.strictEqual(result.status, 1, output(result))
    assert.include(result.stderr, join(root, "test/billing/Credits.test.ts"))
    assert.notInclude(result.stderr, join(root, "src/billing/Credits.ts"))
    assert.isFalse(existsSync(join(root, "src/billing/Credits.ts")))
    assert.strictEqual(read(root, "test/billing/Credits.test.ts"), "// kept\n")
  })

  it("--no-test writes only the service", () => {
    const result = generate(root, "billing/payouts", "--no-test")
    assert.strictEqual(result.status, 0, output(result))
    assert.strictEqual(result.stdout, `wrote ${join(root, "src/billing/Payouts.ts")}\n`)
    assert.include(read(root, "src/billing/Payouts.ts"), "export class Payouts extends Context.Service<Payouts, {")
    assert.isFalse(existsSync(join(root, "test/billing/Payouts.test.ts")))
  })

  it.each([
    [[]],
    [["refunds"]],
    [["payments/refunds", "payments/other"]],
    [["Payments/refunds"]],
    [["payments/Refunds"]],
    [["payments/refund_requests"]],
    [["payments/refund--requests"]],
    [["payments/-refunds"]],
    [["payments/refunds-"]],
    [["payments/1refunds"]],
    [["payments/"]],
    [["/refunds"]],
    [["payments//refunds"]],
    [["../refunds"]],
    [["payments/effect"]],
    [["payments/refunds", "--bogus"]]
  ])("exits 2 with usage for %j", (args) => {
    const before = [...files("src"), ...files("test")]
    const result = generate(root, ...args)
    assert.strictEqual(result.status, 2, output(result))
    assert.include(result.stderr, "Usage: pnpm gen:module <folder>/<name>")
    assert.strictEqual(result.stdout, "")
    assert.deepStrictEqual([...files("src"), ...files("test")], before)
  })
})

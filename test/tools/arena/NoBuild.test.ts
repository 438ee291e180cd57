import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { digestPath, inputsDigest } from "../../../scripts/build-inputs.ts"

const repository = join(import.meta.dirname, "..", "..", "..")
const copied = ["src", "migrations", "scripts", "tools", "package.json", "pnpm-lock.yaml", "tsconfig.json"]

const roots: Array<string> = []
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })))

/** A copy of the tree with a `dist/` that `pnpm build` made from it, as far as its digest tells. */
const treeWithBundle = () => {
  const root = mkdtempSync(join(tmpdir(), "arena-no-build-"))
  roots.push(root)
  for (const entry of copied) cpSync(join(repository, entry), join(root, entry), { recursive: true })
  symlinkSync(join(repository, "node_modules"), join(root, "node_modules"))
  mkdirSync(join(root, "dist"))
  writeFileSync(join(root, "dist", "main.js"), "process.exit(3)\n")
  writeFileSync(digestPath(root), `${inputsDigest(root)}\n`)
  return root
}

const arenaNoBuild = (root: string) =>
  spawnSync(process.execPath, [join(root, "tools/arena/main.ts"), "--profile", "smoke", "--no-build", "--port", "1"], {
    cwd: root,
    encoding: "utf8",
    timeout: 20_000
  })

describe("pnpm arena --no-build", () => {
  it.effect("refuses a dist/ built from other sources, before it starts anything", () =>
    Effect.sync(() => {
      const root = treeWithBundle()
      writeFileSync(join(root, "src", "main.ts"), "// edited after the build\n", { flag: "a" })
      const run = arenaNoBuild(root)
      assert.strictEqual(run.status, 1)
      assert.match(
        `${run.stdout}${run.stderr}`,
        /--no-build: dist\/ was built from other sources than those in the tree now/
      )
      assert.notMatch(run.stdout, /running the/)
    }))

  it.effect("refuses a dist/ with no digest", () =>
    Effect.sync(() => {
      const root = treeWithBundle()
      rmSync(digestPath(root))
      const run = arenaNoBuild(root)
      assert.strictEqual(run.status, 1)
      assert.match(`${run.stdout}${run.stderr}`, /--no-build: dist\/ holds no digest of its inputs/)
    }))
})

import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { digestPath, inputsDigest, inputsOf, staleBundle } from "../../scripts/build-inputs.ts"

const roots: Array<string> = []
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })))

/** A tree with sources, a migration and a bundle, its digest written as `scripts/build.ts` writes it. */
const builtTree = () => {
  const root = mkdtempSync(join(tmpdir(), "build-inputs-"))
  roots.push(root)
  const write = (file: string, text: string) => {
    mkdirSync(join(root, file, ".."), { recursive: true })
    writeFileSync(join(root, file), text)
  }
  write("src/main.ts", "export const a = 1\n")
  write("src/payments/Payment.ts", "export const b = 2\n")
  write("migrations/0001_payments.sql", "create table payments ();\n")
  write("package.json", "{}\n")
  write("dist/main.js", "export {}\n")
  write("README.md", "not an input\n")
  writeFileSync(digestPath(root), `${inputsDigest(root)}\n`)
  return { root, write }
}

describe("build-inputs", () => {
  it.effect("lists the sources, the migrations and the build's own files, not the rest of the tree", () =>
    Effect.sync(() => {
      const { root } = builtTree()
      assert.deepStrictEqual(inputsOf(root), [
        "migrations/0001_payments.sql",
        "package.json",
        "src/main.ts",
        "src/payments/Payment.ts"
      ])
    }))

  it.effect("a bundle built from the tree as it is passes", () =>
    Effect.sync(() => {
      const { root, write } = builtTree()
      assert.strictEqual(staleBundle(root), undefined)
      write("README.md", "edited, but not an input\n")
      assert.strictEqual(staleBundle(root), undefined)
    }))

  it.effect("an edited, added or removed source makes it stale, and restoring the content makes it current again", () =>
    Effect.sync(() => {
      const { root, write } = builtTree()
      write("src/payments/Payment.ts", "export const b = 3\n")
      assert.match(staleBundle(root) ?? "", /built from other sources/)
      write("src/payments/Payment.ts", "export const b = 2\n")
      assert.strictEqual(staleBundle(root), undefined)
      write("src/payments/Extra.ts", "export {}\n")
      assert.match(staleBundle(root) ?? "", /built from other sources/)
      rmSync(join(root, "src/payments/Extra.ts"))
      assert.strictEqual(staleBundle(root), undefined)
      write("migrations/0001_payments.sql", "create table payments (id int);\n")
      assert.match(staleBundle(root) ?? "", /built from other sources/)
    }))

  it.effect("a bundle without a digest or without main.js is stale", () =>
    Effect.sync(() => {
      const { root } = builtTree()
      rmSync(digestPath(root))
      assert.match(staleBundle(root) ?? "", /no digest/)
      rmSync(join(root, "dist/main.js"))
      assert.match(staleBundle(root) ?? "", /does not exist/)
    }))

  it.effect("the repository's own inputs include the build's entry point, its scripts and the lockfile", () =>
    Effect.sync(() => {
      const inputs = inputsOf(join(import.meta.dirname, "..", ".."))
      for (const file of ["src/main.ts", "scripts/build.ts", "scripts/build-inputs.ts", "pnpm-lock.yaml"]) {
        assert.include(inputs, file)
      }
    }))
})

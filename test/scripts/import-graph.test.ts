import { afterAll, assert, describe, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { importCycles, importGraph, mutualFolders } from "../../scripts/import-graph.ts"

const roots: Array<string> = []
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })))

const tree = (files: Record<string, string>) => {
  const root = mkdtempSync(join(tmpdir(), "import-graph-"))
  roots.push(root)
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

describe("the import graph", () => {
  it("src/: no import cycle, no two folders importing each other, and no tool", () => {
    const graph = importGraph("src")
    assert.deepStrictEqual(importCycles(graph), [])
    assert.deepStrictEqual(mutualFolders(graph), [])
    const outside = [...graph.folders.values()].flatMap((targets) => [...targets.keys()])
      .filter((to) => to.startsWith("../"))
    assert.deepStrictEqual([...new Set(outside)], ["../migrations"])
  })

  it("http/ is a toolkit: it imports no domain folder", () => {
    const targets = [...(importGraph("src").folders.get("http")?.keys() ?? [])]
    assert.deepStrictEqual(targets.filter((to) => !["config", "observability"].includes(to)), [])
  })

  it("finds folder pairs, cycles and imports beside the root", () => {
    const root = tree({
      "a/One.ts": `import { two } from "../b/Two.ts"\nexport const one = 1`,
      "b/Two.ts": `import type { one } from "../a/One.ts"\nimport { three } from "./Three.ts"\nexport const two = 2`,
      "b/Three.ts": `export { two } from "./Two.ts"`,
      "Top.ts": `import x from "../elsewhere/X.ts"\nconst lazy = () => import("./a/One.ts")`
    })
    const graph = importGraph(root)
    assert.deepStrictEqual(mutualFolders(graph), [["a", "b"]])
    assert.strictEqual(importCycles(graph).length, 2)
    assert.deepStrictEqual(Object.fromEntries(graph.folders.get(".") ?? []), { "../elsewhere": 1, a: 1 })
  })
})

import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { build } from "esbuild"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { builtinsWithoutNamespace } from "../../scripts/builtins-plugin.ts"
import { loadsBundledUndici, staticImports } from "../support/modules.ts"

const roots: Array<string> = []
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })))

// reads one export of each spelling a bundled package uses; http.WebSocket is a lazy getter that loads Node's undici
const entry = `import * as http from "node:http"
import { readFileSync } from "fs"
import promises from "node:fs/promises"
export const used = [typeof http.createServer, typeof readFileSync, typeof promises.readFile]`

/** Bundles `entry` the way scripts/build.ts does: what it exports, whether a fresh Node loading it loads undici. */
const bundleAndRun = (plugins: Parameters<typeof build>[0]["plugins"]) =>
  Effect.gen(function*() {
    const root = mkdtempSync(join(tmpdir(), "builtins-plugin-"))
    roots.push(root)
    writeFileSync(join(root, "entry.ts"), entry)
    const out = join(root, "out.js")
    yield* Effect.promise(() =>
      build({
        entryPoints: [join(root, "entry.ts")],
        outfile: out,
        bundle: true,
        format: "esm",
        platform: "node",
        ...(plugins === undefined ? {} : { plugins }),
        logLevel: "silent"
      })
    )
    const { used }: { readonly used: ReadonlyArray<string> } = yield* Effect.promise(() => import(out))
    const undici = yield* loadsBundledUndici([pathToFileURL(out).href])
    const imports = staticImports(readFileSync(out, "utf8"))
    return { used, undici, imports }
  })

describe("builtinsWithoutNamespace", () => {
  it.live("without it, the bundle imports builtins as ES modules and Node runs their lazy getters", () =>
    Effect.gen(function*() {
      const { undici, used, imports } = yield* bundleAndRun(undefined)
      assert.deepStrictEqual(used, ["function", "function", "function"])
      assert.isTrue(undici)
      assert.includeMembers(imports, ["node:http"])
    }))

  it.live("with it, every builtin import still works, none is an ES module import and no lazy getter runs", () =>
    Effect.gen(function*() {
      const { undici, used, imports } = yield* bundleAndRun([builtinsWithoutNamespace])
      assert.deepStrictEqual(used, ["function", "function", "function"])
      assert.isFalse(undici)
      assert.deepStrictEqual(imports, [])
    }))
})

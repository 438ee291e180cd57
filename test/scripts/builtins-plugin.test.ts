import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { build } from "esbuild"
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { builtinsWithoutNamespace } from "../../scripts/builtins-plugin.ts"

const roots: Array<string> = []
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })))

// reads one export of each spelling a bundled package uses; http.WebSocket is a lazy getter that loads Node's undici
const entry = `import * as http from "node:http"
import { readFileSync } from "fs"
import promises from "node:fs/promises"
export const used = [typeof http.createServer, typeof readFileSync, typeof promises.readFile]`

/** Bundles `entry` the way scripts/build.ts does, runs it in a fresh Node: what it exported, what Node loaded. */
const bundleAndRun = (plugins: Parameters<typeof build>[0]["plugins"]) =>
  Effect.gen(function*() {
    const root = mkdtempSync(join(tmpdir(), "builtins-plugin-"))
    roots.push(root)
    writeFileSync(join(root, "entry.ts"), entry)
    yield* Effect.promise(() =>
      build({
        entryPoints: [join(root, "entry.ts")],
        outfile: join(root, "out.js"),
        bundle: true,
        format: "esm",
        platform: "node",
        ...(plugins === undefined ? {} : { plugins }),
        logLevel: "silent"
      })
    )
    const script = `const { used } = await import(${JSON.stringify(join(root, "out.js"))})
console.log(JSON.stringify({ used, undici: process.moduleLoadList.includes("NativeModule internal/deps/undici/undici") }))`
    const stdout = yield* Effect.callback<string>((resume) => {
      execFile(process.execPath, ["--input-type=module", "-e", script], (error, out, stderr) => {
        resume(error === null ? Effect.succeed(out) : Effect.die(new Error(`${error.message}\n${stderr}`)))
      })
    })
    const result: { readonly used: ReadonlyArray<string>; readonly undici: boolean } = JSON.parse(stdout)
    const imports = [...readFileSync(join(root, "out.js"), "utf8").matchAll(/^import\s[^;]*?from\s*"([^"]+)"/gm)]
      .map((match) => match[1] ?? "")
    return { ...result, imports }
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

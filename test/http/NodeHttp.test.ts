import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { pathToFileURL } from "node:url"

const root = join(import.meta.dirname, "..", "..")

/** Imports `specifiers` in a fresh Node and answers whether Node's bundled undici (its fetch and WebSocket) loaded. */
const loadsBundledUndici = (specifiers: ReadonlyArray<string>) =>
  Effect.promise(() =>
    new Promise<boolean>((resolve, reject) => {
      const script = `for (const specifier of ${JSON.stringify(specifiers)}) await import(specifier)
console.log(process.moduleLoadList.includes("NativeModule internal/deps/undici/undici"))`
      execFile(process.execPath, ["--input-type=module", "-e", script], { cwd: root }, (error, stdout, stderr) => {
        if (error === null) resolve(stdout.trim().split("\n").at(-1) === "true")
        else reject(new Error(`${error.message}\n${stderr}`))
      })
    })
  )

const appModules = [
  "src/App.ts",
  "src/config/AppConfig.ts",
  "src/observability/Logging.ts",
  "src/observability/Tracing.ts"
]
  .map((file) => pathToFileURL(join(root, file)).href)

describe("node:http", () => {
  it.live("an ES module import of node:http loads Node's bundled fetch and WebSocket (why src/http/NodeHttp.ts exists)", () =>
    Effect.gen(function*() {
      assert.isTrue(yield* loadsBundledUndici(["node:http"]))
    }))

  it.live("the service's modules load without Node's bundled fetch and WebSocket", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* loadsBundledUndici(appModules))
    }))
})

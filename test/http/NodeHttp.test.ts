import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { loadsBundledUndici } from "../support/modules.ts"

const root = join(import.meta.dirname, "..", "..")

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

import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { HttpServerRequest } from "effect/http"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { requestHeader } from "../../src/http/NodeHttp.ts"
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

  it("a request with no Node request behind it has its headers read through the platform", () => {
    const request = HttpServerRequest.fromWeb(
      new Request("http://localhost/payments", {
        headers: { "X-Request-Id": "abc-1", "Content-Type": "application/json" }
      })
    )
    assert.strictEqual(requestHeader(request, "x-request-id"), "abc-1")
    assert.strictEqual(requestHeader(request, "content-type"), "application/json")
    assert.isUndefined(requestHeader(request, "content-encoding"))
  })
})

import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { HttpClientRequest, HttpRouter } from "effect/http"
import { InvalidRequest } from "../../src/http/ApiError.ts"
import { serveRoutes } from "../../src/http/HttpApp.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { get, send } from "../support/api.ts"

const logged: Array<ReturnType<typeof Logger.formatStructured.log>> = []
const capture = Logger.make((options) => void logged.push(Logger.formatStructured.log(options)))

const routes = Effect.succeed([
  HttpRouter.route("GET", "/defect", Effect.suspend(() => Effect.die(new Error("the handler broke")))),
  HttpRouter.route("GET", "/invalid", Effect.fail(new InvalidRequest({ errors: [] })))
])

const server = serveRoutes(routes).pipe(
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provide(Metrics.layerTest),
  Layer.provide(Logger.layer([capture]))
)

describe("a request that fails unexpectedly", () => {
  layer(server)((it) => {
    it.effect("answers 500 and is logged at Error with its method, path, id and cause", () =>
      Effect.gen(function*() {
        logged.length = 0
        const named = yield* send(
          HttpClientRequest.get("/defect?x=1").pipe(HttpClientRequest.setHeader("x-request-id", "req-7"))
        )
        assert.strictEqual(named.status, 500)
        const unnamed = yield* get("/defect")
        assert.strictEqual(unnamed.status, 500)
        assert.strictEqual(logged.length, 2)
        const [first, second] = logged
        assert.strictEqual(first?.level, "ERROR")
        assert.strictEqual(first?.message, "request failed")
        assert.deepStrictEqual(first?.annotations, { requestId: "req-7", method: "GET", path: "/defect" })
        assert.include(first?.cause ?? "", "the handler broke")
        assert.deepStrictEqual(second?.annotations, { requestId: "1", method: "GET", path: "/defect" })
      }))

    it.effect("an API error (4xx) and an unknown path are answered, not logged", () =>
      Effect.gen(function*() {
        logged.length = 0
        assert.strictEqual((yield* get("/invalid")).status, 400)
        assert.strictEqual((yield* get("/nowhere")).status, 404)
        assert.deepStrictEqual(logged, [])
      }))
  })
})

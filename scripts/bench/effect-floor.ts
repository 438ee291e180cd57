/**
 * The design's floor for `pnpm bench:cpu`: the service's HTTP stack (an Effect `HttpRouter` served by
 * `NodeHttpServer`, as `src/http/HttpApp.ts` serves the routes) and nothing else. POST /payments answers 202 at once,
 * without reading the body: no validation, no queue, no metrics, no forwarding. Its answers are framed as the null
 * backend's (`tools/arena/NullBackend.ts`), so the two differ only in what carries them; the intake's cost over this
 * one is what the service's handlers add, this one's over the null backend's what the stack itself costs.
 * Run as `PORT=9999 node scripts/bench/effect-floor.ts`.
 */
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { createServer } from "node:http"

const empty = (status: number) => HttpServerResponse.empty({ status, headers: { "content-length": "0" } })

const routes = HttpRouter.addAll([
  HttpRouter.route("POST", "/payments", Effect.succeed(empty(202))),
  HttpRouter.route(
    "GET",
    "/payments-summary",
    Effect.succeed(HttpServerResponse.jsonUnsafe({
      default: { totalRequests: 0, totalAmount: 0 },
      fallback: { totalRequests: 0, totalAmount: 0 }
    }))
  ),
  HttpRouter.route("POST", "/purge-payments", Effect.succeed(empty(200))),
  HttpRouter.route("*", "*", Effect.succeed(empty(404)))
])

const server = NodeHttpServer.layer(() => createServer({ keepAliveTimeout: 65_000 }), {
  host: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 9999)
})

NodeRuntime.runMain(Layer.launch(
  HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(Layer.provide(server))
))

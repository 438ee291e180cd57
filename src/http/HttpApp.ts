import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Context, type Duration, Effect } from "effect"
import { HttpEffect, HttpRouter, HttpServerRequest, type HttpServerResponse } from "effect/http"
import { Metrics } from "../observability/Metrics.ts"
import { type ApiError, MethodNotAllowed, NotFound } from "./ApiError.ts"
import { createServer, requestHeader } from "./NodeHttp.ts"

const pathOf = (url: string) => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

/** The methods each known path answers, so an unknown path is a 404 and a known path with another method a 405. */
const allowedMethods = (routes: ReadonlyArray<HttpRouter.Route<unknown, unknown>>) => {
  const allowed = new Map<string, Array<string>>()
  for (const route of routes) {
    const methods = allowed.get(route.path) ?? []
    methods.push(route.method)
    if (route.method === "GET") methods.push("HEAD")
    allowed.set(route.path, methods)
  }
  return allowed
}

/**
 * Times the request by method, route and final status, which counts it too, and tags its logs with a request id: the
 * client's `x-request-id`, else the next number of `nextId`.
 */
const observed = (metrics: Metrics["Service"], label: string, nextId: () => number) =>
<E, R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) =>
  Effect.withFiber((fiber) => {
    const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
    const clock = fiber.getRef(Clock.Clock)
    const startedAt = clock.monotonicTimeNanosUnsafe()
    HttpEffect.appendPreResponseHandlerUnsafe(fiber.context, (request, response) => {
      metrics.httpDuration.labels({ method: request.method, route: label, status: response.status }).observe(
        Number(clock.monotonicTimeNanosUnsafe() - startedAt) / 1e9
      )
      return Effect.succeed(response)
    })
    const requestId = requestHeader(request, "x-request-id") ?? String(nextId())
    return Effect.annotateLogs(handler, "requestId", requestId)
  })

/** The routes, then 404 for an unknown path and 405 (with `Allow`) for a known one, each counted and timed. */
const withFallback = (metrics: Metrics["Service"], routes: ReadonlyArray<HttpRouter.Route<ApiError>>) => {
  const allowed = allowedMethods(routes)
  let requests = 0
  const nextId = () => ++requests
  const unmatched = HttpRouter.route(
    "*",
    "*",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const path = pathOf(request.url)
      const methods = allowed.get(path)
      if (methods === undefined) return yield* new NotFound({ method: request.method, path })
      return yield* new MethodNotAllowed({ method: request.method, path, allow: methods })
    })
  )
  return [...routes, unmatched].map((route: HttpRouter.Route<ApiError>) =>
    HttpRouter.route(
      route.method,
      route.path,
      observed(metrics, route.path === "*" ? "unmatched" : route.path, nextId)(route.handler)
    )
  )
}

/** `routes` served by whatever HttpServer is provided, with the 404/405 fallback, every request counted and timed. */
export const serveRoutes = <E, R>(routes: Effect.Effect<ReadonlyArray<HttpRouter.Route<ApiError>>, E, R>) =>
  HttpRouter.serve(
    HttpRouter.addAll(Effect.gen(function*() {
      return withFallback(yield* Metrics, yield* routes)
    })),
    { disableLogger: true, disableListenLog: true }
  )

export const nodeServer = (host: string, port: number, gracefulShutdownTimeout: Duration.Duration) =>
  NodeHttpServer.layer(() => createServer({ keepAliveTimeout: 65_000 }), { host, port, gracefulShutdownTimeout })

import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Context, type Duration, Effect, Layer, Option } from "effect"
import { constTrue } from "effect/Function"
import { HttpEffect, HttpMiddleware, HttpRouter, HttpServerRequest, type HttpServerResponse } from "effect/http"
import { createServer } from "node:http"
import { AppConfig } from "../config/AppConfig.ts"
import { Metrics } from "../observability/Metrics.ts"
import { TracesExported } from "../observability/Tracing.ts"
import { PaymentRoutes } from "../payments/PaymentRoutes.ts"
import { type ApiError, MethodNotAllowed, NotFound } from "./ApiError.ts"
import { MetricsRoutes, SystemRoutes } from "./SystemRoutes.ts"

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

let requestSequence = 0

/** Counts and times the request by method, route and final status, and tags its logs with a request id. */
const observed = (metrics: Metrics["Service"], label: string) =>
<E, R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) =>
  Effect.withFiber((fiber) => {
    const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
    const clock = fiber.getRef(Clock.Clock)
    const startedAt = clock.currentTimeNanosUnsafe()
    HttpEffect.appendPreResponseHandlerUnsafe(fiber.context, (request, response) => {
      const labels = { method: request.method, route: label, status: response.status }
      metrics.httpRequests.inc(labels)
      metrics.httpDuration.observe(labels, Number(clock.currentTimeNanosUnsafe() - startedAt) / 1e9)
      return Effect.succeed(response)
    })
    const requestId = request.headers["x-request-id"] ?? String(++requestSequence)
    return Effect.annotateLogs(handler, "requestId", requestId)
  })

/** The routes, then 404 for an unknown path and 405 (with `Allow`) for a known one, each counted and timed. */
const withFallback = (metrics: Metrics["Service"], routes: ReadonlyArray<HttpRouter.Route<ApiError>>) => {
  const allowed = allowedMethods(routes)
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
      observed(metrics, route.path === "*" ? "unmatched" : route.path)(route.handler)
    )
  )
}

export const ApiRoutes = HttpRouter.addAll(Effect.gen(function*() {
  const { metricsPort } = yield* AppConfig
  const metrics = yield* Metrics
  const routes: ReadonlyArray<HttpRouter.Route<ApiError>> = [
    ...(yield* PaymentRoutes),
    ...(yield* SystemRoutes),
    ...(Option.isNone(metricsPort) ? yield* MetricsRoutes : [])
  ]
  return withFallback(metrics, routes)
}))

/** The API served by whatever HttpServer is provided: the Node server in production, an ephemeral one in tests. */
export const ApiServer = HttpRouter.serve(ApiRoutes, { disableLogger: true, disableListenLog: true })

/** /metrics alone, for METRICS_PORT. */
export const MetricsServer = HttpRouter.serve(
  HttpRouter.addAll(Effect.gen(function*() {
    return withFallback(yield* Metrics, yield* MetricsRoutes)
  })),
  { disableLogger: true, disableListenLog: true }
)

const nodeServer = (host: string, port: number, gracefulShutdownTimeout: Duration.Duration) =>
  NodeHttpServer.layer(() => createServer({ keepAliveTimeout: 65_000 }), { host, port, gracefulShutdownTimeout })

/**
 * The API on HOST:PORT and, when METRICS_PORT is set, /metrics on HOST:METRICS_PORT. A request opens a server
 * span only where spans are exported.
 */
export const HttpServerLive = Layer.unwrap(Effect.gen(function*() {
  const { host, metricsPort, port, shutdownGrace } = yield* AppConfig
  const traced = yield* TracesExported
  const api = ApiServer.pipe(Layer.provide(nodeServer(host, port, shutdownGrace)))
  const servers = Option.match(metricsPort, {
    onNone: () => api,
    onSome: (metricsPort) =>
      Layer.merge(api, MetricsServer.pipe(Layer.provide(nodeServer(host, metricsPort, shutdownGrace))))
  })
  return traced ? servers : servers.pipe(Layer.provide(Layer.succeed(HttpMiddleware.TracerDisabledWhen, constTrue)))
}))

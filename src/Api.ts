import { Effect, Layer, Option } from "effect"
import { constTrue } from "effect/Function"
import { HttpMiddleware, HttpRouter } from "effect/http"
import { AppConfig } from "./config/AppConfig.ts"
import type { ApiError } from "./http/ApiError.ts"
import { nodeServer, serveRoutes } from "./http/HttpApp.ts"
import { health, MetricsHandler, ready } from "./http/SystemHandlers.ts"
import { TracesExported } from "./observability/Tracing.ts"
import { PaymentHandlers } from "./payments/PaymentHandlers.ts"
import { PaymentRepository } from "./payments/PaymentRepository.ts"
import { Payments } from "./payments/Payments.ts"

const metricsRoute = Effect.map(MetricsHandler, (metrics) => HttpRouter.route("GET", "/metrics", metrics))

/** Every route of the API; /metrics is one of them unless METRICS_PORT serves it apart. */
export const ApiRoutes = Effect.gen(function*() {
  const { metricsPort } = yield* AppConfig
  const payments = yield* PaymentHandlers
  const repository = yield* PaymentRepository
  const routes: ReadonlyArray<HttpRouter.Route<ApiError>> = [
    HttpRouter.route("POST", "/payments", payments.accept),
    HttpRouter.route("GET", "/payments-summary", payments.summary),
    HttpRouter.route("POST", "/purge-payments", payments.purge),
    HttpRouter.route("GET", "/health", health),
    HttpRouter.route("GET", "/ready", ready(repository.ping)),
    ...(Option.isNone(metricsPort) ? [yield* metricsRoute] : [])
  ]
  return routes
})

/** The API served by whatever HttpServer is provided: the Node server in production, an ephemeral one in tests. */
export const ApiServer = serveRoutes(ApiRoutes).pipe(Layer.provide(Payments.layer))

/** /metrics alone, for METRICS_PORT. */
export const MetricsServer = serveRoutes(Effect.map(metricsRoute, (route) => [route]))

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

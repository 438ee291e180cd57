import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Context, type Duration, Effect, ErrorReporter, Layer } from "effect"
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

/** Times the request by method, route and final status, which counts it too. */
const observed = (metrics: Metrics["Service"], label: string) =>
<E, R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
) =>
  Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    const startedAt = clock.monotonicTimeNanosUnsafe()
    HttpEffect.appendPreResponseHandlerUnsafe(fiber.context, (request, response) => {
      metrics.httpDuration.labels({ method: request.method, route: label, status: response.status }).observe(
        Number(clock.monotonicTimeNanosUnsafe() - startedAt) / 1e9
      )
      return Effect.succeed(response)
    })
    return handler
  })

/**
 * Logs at Error what a request failed with, but for the API's own errors (they answer 4xx or 503 and are marked
 * ignored), with its method, path and id: the client's `x-request-id`, else the next number of this server's. The id
 * is read only when something is reported: annotating every request's logs with it copied the request's context each
 * time.
 */
const requestErrorReporter = () => {
  let unnamed = 0
  // `ErrorReporter.make` calls back once per reason of a cause; the line logs the whole cause, once
  const logged = new WeakSet<object>()
  return ErrorReporter.make(({ cause, fiber }) => {
    if (logged.has(cause)) return
    logged.add(cause)
    const request = Context.getOrUndefined(fiber.context, HttpServerRequest.HttpServerRequest)
    const annotations = request === undefined ? {} : {
      requestId: requestHeader(request, "x-request-id") ?? String(++unnamed),
      method: request.method,
      path: pathOf(request.url)
    }
    Effect.runSyncWith(fiber.context)(
      Effect.logError("request failed", cause).pipe(Effect.annotateLogs(annotations))
    )
  })
}

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

/**
 * `routes` served by whatever HttpServer is provided, with the 404/405 fallback, every request counted and timed,
 * and what a request fails with unexpectedly logged.
 */
export const serveRoutes = <E, R>(routes: Effect.Effect<ReadonlyArray<HttpRouter.Route<ApiError>>, E, R>) =>
  HttpRouter.serve(
    HttpRouter.addAll(Effect.gen(function*() {
      return withFallback(yield* Metrics, yield* routes)
    })),
    { disableLogger: true, disableListenLog: true }
  ).pipe(Layer.provide(ErrorReporter.layer([requestErrorReporter()])))

export const nodeServer = (host: string, port: number, gracefulShutdownTimeout: Duration.Duration) =>
  NodeHttpServer.layer(() => createServer({ keepAliveTimeout: 65_000 }), { host, port, gracefulShutdownTimeout })

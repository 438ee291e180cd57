import { Effect } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { Metrics } from "../observability/Metrics.ts"
import { PaymentRepository } from "../payments/PaymentRepository.ts"
import { ServiceUnavailable } from "./ApiError.ts"

/** Liveness (the process serves HTTP) and readiness (the database answers; migrations ran before the server listened). */
export const SystemRoutes = Effect.gen(function*() {
  const repository = yield* PaymentRepository

  return [
    HttpRouter.route("GET", "/health", HttpServerResponse.jsonUnsafe({ status: "ok" })),
    HttpRouter.route(
      "GET",
      "/ready",
      repository.ping.pipe(
        Effect.timeout("2 seconds"),
        Effect.mapError(() => new ServiceUnavailable({ reason: "the database does not answer" })),
        Effect.as(HttpServerResponse.jsonUnsafe({ status: "ready" }))
      )
    )
  ] as const
})

/** Prometheus text: on the API port, or on METRICS_PORT alone when that is set. */
export const MetricsRoutes = Effect.gen(function*() {
  const metrics = yield* Metrics

  return [
    HttpRouter.route(
      "GET",
      "/metrics",
      Effect.map(
        Effect.promise(() => metrics.registry.metrics()),
        (text) => HttpServerResponse.text(text, { contentType: metrics.registry.contentType })
      )
    )
  ] as const
})

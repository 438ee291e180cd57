import { Effect } from "effect"
import { HttpServerResponse } from "effect/http"
import { Metrics } from "../observability/Metrics.ts"
import { ServiceUnavailable } from "./ApiError.ts"

/** Liveness: the process serves HTTP. */
export const health = HttpServerResponse.jsonUnsafe({ status: "ok" })

/** Readiness: `databaseAnswers` succeeds within 2 s (migrations ran before the server listened). */
export const ready = <E>(databaseAnswers: Effect.Effect<unknown, E>) =>
  databaseAnswers.pipe(
    Effect.timeout("2 seconds"),
    Effect.mapError(() => new ServiceUnavailable({ reason: "the database does not answer" })),
    Effect.as(HttpServerResponse.jsonUnsafe({ status: "ready" }))
  )

/** Prometheus text: on the API port, or on METRICS_PORT alone when that is set. */
export const MetricsHandler = Effect.map(
  Effect.service(Metrics),
  (metrics) =>
    Effect.map(metrics.exposition, (text) => HttpServerResponse.text(text, { contentType: metrics.contentType }))
)

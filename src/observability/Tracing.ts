import { Effect, Layer, Option } from "effect"
import { AppConfig } from "../config/AppConfig.ts"

/**
 * Exports spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise spans stay in-process.
 * The OpenTelemetry SDK is loaded only when it is used, so an instance without tracing does not pay for it.
 */
export const TracingLive = Layer.unwrap(Effect.gen(function*() {
  const { instanceId, otlpEndpoint } = yield* AppConfig
  if (Option.isNone(otlpEndpoint)) return Layer.empty
  const { otlpTracing } = yield* Effect.promise(() => import("./OtlpTracing.ts"))
  yield* Effect.logInfo("exporting traces").pipe(Effect.annotateLogs({ endpoint: otlpEndpoint.value }))
  return otlpTracing({ endpoint: otlpEndpoint.value, serviceName: "rinha-payments", instanceId })
}))

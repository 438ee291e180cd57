import { Context, Effect, Layer, Option } from "effect"
import { lookup } from "node:dns/promises"
import { AppConfig } from "../config/AppConfig.ts"

/**
 * True where spans are exported. Per-payment spans (the job, the processor call, their links) are opened only then:
 * without an exporter nobody reads them, and they cost more than the rest of a payment's bookkeeping.
 */
export const TracesExported = Context.Reference<boolean>("app/observability/TracesExported", {
  defaultValue: () => false
})

/**
 * Exports spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise spans stay in-process. With
 * OTEL_EXPORTER_OTLP_OPTIONAL, an endpoint whose host does not resolve at startup turns tracing off instead: the
 * compose file names Tempo, which only its observability profile starts.
 * The OpenTelemetry SDK is loaded only when it is used, so an instance without tracing does not pay for it.
 */
export const TracingLive = Layer.unwrap(Effect.gen(function*() {
  const { instanceId, otlpEndpoint, otlpOptional } = yield* AppConfig
  if (Option.isNone(otlpEndpoint)) return Layer.empty
  const endpoint = otlpEndpoint.value
  if (otlpOptional && !(yield* resolves(new URL(endpoint).hostname.replace(/^\[(.*)\]$/, "$1")))) {
    yield* Effect.logInfo("trace collector not found, not tracing").pipe(Effect.annotateLogs({ endpoint }))
    return Layer.empty
  }
  const { otlpTracing } = yield* Effect.promise(() => import("./OtlpTracing.ts"))
  yield* Effect.logInfo("exporting traces").pipe(Effect.annotateLogs({ endpoint }))
  return Layer.merge(
    otlpTracing({ endpoint, serviceName: "rinha-payments", instanceId }),
    Layer.succeed(TracesExported, true)
  )
}))

const resolves = (hostname: string) =>
  Effect.tryPromise(() => lookup(hostname)).pipe(
    Effect.timeout("2 seconds"),
    Effect.as(true),
    Effect.orElseSucceed(() => false)
  )

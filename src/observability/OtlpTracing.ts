import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"

export const otlpTracing = (options: {
  readonly endpoint: string
  readonly serviceName: string
  readonly instanceId: string
}) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: options.serviceName, attributes: { "service.instance.id": options.instanceId } },
    spanProcessor: new BatchSpanProcessor(
      new OTLPTraceExporter({ url: `${options.endpoint}/v1/traces` }),
      { scheduledDelayMillis: 1000 }
    )
  }))

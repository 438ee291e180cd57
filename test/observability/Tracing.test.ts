import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Schedule, Tracer } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { TracingLive } from "../../src/observability/Tracing.ts"
import { postPayment } from "../support/process.ts"
import { startService } from "../support/service.ts"

interface OtlpValue {
  readonly stringValue?: string
  readonly intValue?: string | number
}

interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly attributes?: ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }>
  readonly links?: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
}

interface OtlpExport {
  readonly resourceSpans: ReadonlyArray<{
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<OtlpSpan> }>
  }>
}

const serverKind = 2

/** An OTLP/HTTP (JSON) trace receiver on an ephemeral port, keeping every span it is sent. */
const otlpReceiver = Effect.acquireRelease(
  Effect.callback<{ readonly url: string; readonly spans: Array<OtlpSpan>; readonly close: () => void }>((resume) => {
    const spans: Array<OtlpSpan> = []
    const server = createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        if (request.url === "/v1/traces" && request.headers["content-type"]?.includes("json") === true) {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpExport
          for (const resource of body.resourceSpans) {
            for (const scope of resource.scopeSpans) spans.push(...scope.spans)
          }
          response.writeHead(200, { "content-type": "application/json" }).end("{}")
        } else {
          response.writeHead(415).end()
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, spans, close: () => server.close() }))
    })
  }),
  (receiver) => Effect.sync(receiver.close)
)

const attribute = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value.stringValue

const parentOf = (spans: ReadonlyArray<OtlpSpan>, span: OtlpSpan) =>
  spans.find((s) => s.spanId === span.parentSpanId && s.traceId === span.traceId)

const descendsFrom = (spans: ReadonlyArray<OtlpSpan>, span: OtlpSpan, ancestor: OtlpSpan): boolean => {
  const parent = parentOf(spans, span)
  return parent !== undefined && (parent === ancestor || descendsFrom(spans, parent, ancestor))
}

const linksTo = (span: OtlpSpan, target: OtlpSpan) =>
  span.links?.some((link) => link.spanId === target.spanId && link.traceId === target.traceId) === true

describe("tracing", () => {
  it.live(
    "one POST /payments exports the request span and, linked to it, the job, the processor call and the SQL insert",
    () =>
      Effect.gen(function*() {
        const receiver = yield* otlpReceiver
        const { port, service } = yield* startService({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url })

        const correlationId = crypto.randomUUID()
        assert.strictEqual(yield* postPayment(port, correlationId), 202)

        const find = () => {
          const job = receiver.spans.find((s) =>
            s.name === "PaymentWorkers.process" && attribute(s, "correlationId") === correlationId
          )
          const request = job && receiver.spans.find((s) => linksTo(job, s))
          const send = job &&
            receiver.spans.find((s) => s.name === "ProcessorGateway.send" && s.traceId === job.traceId)
          const write = job && receiver.spans.find((s) => s.name === "PaymentRecorder.write" && linksTo(s, job))
          const insert = write &&
            receiver.spans.find((s) =>
              /INSERT INTO payments/i.test(attribute(s, "db.query.text") ?? "") &&
              descendsFrom(receiver.spans, s, write)
            )
          return job && request && send && write && insert ? { job, request, send, write, insert } : undefined
        }
        const trace = yield* Effect.sync(find).pipe(
          Effect.filterOrFail((found) => found !== undefined),
          Effect.retry(Schedule.spaced("250 millis")),
          Effect.timeout("20 seconds"),
          Effect.catch(() =>
            Effect.die(
              new Error(
                `spans not found among ${receiver.spans.length}: ${
                  [...new Set(receiver.spans.map((s) => s.name))].join(", ")
                }\n${service.output()}`
              )
            )
          )
        )

        assert.strictEqual(trace.request.kind, serverKind, "the link points at the HTTP server span")
        assert.include(trace.request.name, "POST")
        assert.notStrictEqual(trace.job.traceId, trace.request.traceId, "the job is its own trace, linked")
        assert.strictEqual(attribute(trace.send, "correlationId"), correlationId)
        assert.notStrictEqual(trace.write.traceId, trace.job.traceId, "the batched insert is its own trace, linked")
      }).pipe(Effect.scoped),
    { timeout: 90_000 }
  )

  const tracerWith = (endpoint: string, optional: boolean) =>
    Effect.service(Tracer.Tracer).pipe(
      Effect.provide(
        TracingLive.pipe(
          Layer.provide(AppConfig.layerTest({ otlpEndpoint: Option.some(endpoint), otlpOptional: optional }))
        )
      )
    )

  it.live(
    "an optional collector whose host does not resolve leaves tracing off; one that resolves turns it on",
    () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* tracerWith("http://tempo.invalid:4318", true), Tracer.nativeTracer)
        assert.notStrictEqual(yield* tracerWith("http://127.0.0.1:4318", true), Tracer.nativeTracer)
        assert.notStrictEqual(yield* tracerWith("http://tempo.invalid:4318", false), Tracer.nativeTracer)
      }).pipe(Effect.scoped),
    { timeout: 30_000 }
  )
})

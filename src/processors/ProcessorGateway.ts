import { NodeHttpClient } from "@effect/platform-node"
import { Clock, Context, Duration, Effect, Exit, Layer, Option, Schema, Semaphore } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { AppConfig } from "../config/AppConfig.ts"
import { Metrics } from "../observability/Metrics.ts"
import { Processor } from "../payments/Payment.ts"

export interface ProcessorPayment {
  readonly correlationId: string
  readonly amount: number
  readonly requestedAt: Date
}

export interface HealthReport {
  readonly failing: boolean
  readonly minResponseTime: number
}

export interface StoredPayment {
  readonly amount: number
  readonly requestedAt: Date
}

/** The processor stored the payment now ("processed") or it already held this correlationId ("duplicate"). */
export type SendOutcome = "processed" | "duplicate"

/** The processor did not take the payment: it was never sent, or it was refused (5xx, 429, other 4xx). */
export class ProcessorUnavailable extends Schema.TaggedError<ProcessorUnavailable>()("ProcessorUnavailable", {
  processor: Processor,
  reason: Schema.String
}) {}

/** The payment left for the processor but no answer came back: it may or may not be stored there. */
export class ProcessorAmbiguous extends Schema.TaggedError<ProcessorAmbiguous>()("ProcessorAmbiguous", {
  processor: Processor,
  reason: Schema.String
}) {}

export class ProcessorGateway extends Context.Service<ProcessorGateway, {
  readonly send: (
    processor: Processor,
    payment: ProcessorPayment
  ) => Effect.Effect<SendOutcome, ProcessorUnavailable | ProcessorAmbiguous>
  readonly lookup: (
    processor: Processor,
    correlationId: string
  ) => Effect.Effect<Option.Option<StoredPayment>, ProcessorUnavailable>
  /** GET /payments/service-health: rate limited by the processor to one call per 5 s for everyone together. */
  readonly health: (processor: Processor) => Effect.Effect<HealthReport, ProcessorUnavailable>
}>()("app/processors/ProcessorGateway") {
  static readonly layerNoDeps: Layer.Layer<ProcessorGateway, never, AppConfig | Metrics | HttpClient.HttpClient> = Layer
    .effect(
      ProcessorGateway,
      Effect.gen(function*() {
        const config = yield* AppConfig
        const metrics = yield* Metrics
        const client = yield* HttpClient.HttpClient
        const permits: Record<Processor, Semaphore.Semaphore> = {
          default: yield* Semaphore.make(config.processorConnections),
          fallback: yield* Semaphore.make(config.processorConnections)
        }

        const timed = <A, E extends { readonly reason: string }>(
          processor: Processor,
          effect: Effect.Effect<A, E>,
          outcome: (value: A) => string
        ) =>
          Effect.gen(function*() {
            const startedAt = yield* Clock.currentTimeNanos
            const exit = yield* Effect.exit(effect)
            const seconds = Number((yield* Clock.currentTimeNanos) - startedAt) / 1e9
            const label = Exit.isSuccess(exit)
              ? outcome(exit.value)
              : Exit.findErrorOption(exit).pipe(Option.match({ onNone: () => "interrupted", onSome: (e) => e.reason }))
            metrics.processorLatency.observe({ processor, outcome: label }, seconds)
            return yield* exit
          })

        const withConnection = <A, E>(processor: Processor, effect: Effect.Effect<A, E>) =>
          Effect.scoped(
            Effect.andThen(
              permits[processor].takeScoped(1).pipe(
                Effect.timeoutOrElse({
                  duration: config.processorAcquireTimeout,
                  orElse: () => Effect.fail(new ProcessorUnavailable({ processor, reason: "no connection available" }))
                })
              ),
              effect
            )
          )

        const counted = <A, E>(processor: Processor, effect: Effect.Effect<A, E>) =>
          Effect.acquireUseRelease(
            Effect.sync(() => metrics.processorInFlight.inc({ processor })),
            () => effect,
            () => Effect.sync(() => metrics.processorInFlight.dec({ processor }))
          )

        const send = Effect.fn("ProcessorGateway.send")(
          function*(processor: Processor, payment: ProcessorPayment) {
            yield* Effect.annotateCurrentSpan({ processor, correlationId: payment.correlationId })
            const request = HttpClientRequest.post(`${config.processorUrls[processor]}/payments`).pipe(
              HttpClientRequest.bodyText(
                `{"correlationId":"${payment.correlationId}","amount":${payment.amount},"requestedAt":"${payment.requestedAt.toISOString()}"}`,
                "application/json"
              )
            )
            const exchange = client.execute(request).pipe(
              Effect.flatMap((response) => Effect.as(response.arrayBuffer, response.status)),
              Effect.timeoutOrElse({
                duration: config.processorTimeout,
                orElse: () => Effect.fail(new ProcessorAmbiguous({ processor, reason: "timeout" }))
              }),
              Effect.catchTag("HttpClientError", (error) =>
                Effect.fail(
                  neverSent(error.cause)
                    ? new ProcessorUnavailable({ processor, reason: errorCode(error.cause) })
                    : new ProcessorAmbiguous({ processor, reason: errorCode(error.cause) })
                ))
            )
            const status = yield* timed(processor, withConnection(processor, counted(processor, exchange)), String)
            if (status >= 200 && status < 300) return "processed" as const
            if (status === 422) return "duplicate" as const
            return yield* new ProcessorUnavailable({ processor, reason: `status ${status}` })
          }
        )

        const lookup = Effect.fn("ProcessorGateway.lookup")(
          function*(processor: Processor, correlationId: string) {
            const response = yield* client.get(`${config.processorUrls[processor]}/payments/${correlationId}`).pipe(
              Effect.mapError(() => new ProcessorUnavailable({ processor, reason: "lookup failed" }))
            )
            if (response.status === 404) {
              yield* Effect.ignore(response.arrayBuffer)
              return Option.none<StoredPayment>()
            }
            if (response.status !== 200) {
              yield* Effect.ignore(response.arrayBuffer)
              return yield* new ProcessorUnavailable({ processor, reason: `lookup status ${response.status}` })
            }
            const stored = yield* response.json.pipe(
              Effect.flatMap(Schema.decodeUnknownEffect(StoredPaymentJson)),
              Effect.mapError(() => new ProcessorUnavailable({ processor, reason: "lookup body" }))
            )
            return Option.some<StoredPayment>({ amount: stored.amount, requestedAt: new Date(stored.requestedAt) })
          },
          (effect, processor) =>
            withConnection(
              processor,
              // the whole exchange, body included: a processor that sends headers and then stalls must not hold a permit
              Effect.timeoutOrElse(effect, {
                duration: config.processorTimeout,
                orElse: () => Effect.fail(new ProcessorUnavailable({ processor, reason: "lookup timeout" }))
              })
            )
        )

        const health = Effect.fn("ProcessorGateway.health")(function*(processor: Processor) {
          const response = yield* client.get(`${config.processorUrls[processor]}/payments/service-health`).pipe(
            Effect.mapError(() => new ProcessorUnavailable({ processor, reason: "health call failed" }))
          )
          if (response.status !== 200) {
            yield* Effect.ignore(response.arrayBuffer)
            return yield* new ProcessorUnavailable({ processor, reason: `health status ${response.status}` })
          }
          return yield* response.json.pipe(
            Effect.flatMap(Schema.decodeUnknownEffect(HealthJson)),
            Effect.mapError(() => new ProcessorUnavailable({ processor, reason: "health body" }))
          )
        }, (effect, processor) =>
          Effect.timeoutOrElse(effect, {
            duration: config.health.timeout,
            orElse: () => Effect.fail(new ProcessorUnavailable({ processor, reason: "health timeout" }))
          }))

        return ProcessorGateway.of({ send, lookup, health })
      })
    )

  static readonly layer: Layer.Layer<ProcessorGateway, never, AppConfig | Metrics> = Layer.unwrap(
    Effect.gen(function*() {
      const config = yield* AppConfig
      return ProcessorGateway.layerNoDeps.pipe(
        Layer.provide(NodeHttpClient.layerUndiciOptions({
          connections: config.processorConnections,
          pipelining: 1,
          keepAliveTimeout: 30_000,
          connect: { timeout: Duration.toMillis(config.processorAcquireTimeout) }
        }))
      )
    })
  )
}

const HealthJson = Schema.Struct({ failing: Schema.Boolean, minResponseTime: Schema.Finite })

const StoredPaymentJson = Schema.Struct({ amount: Schema.Finite, requestedAt: Schema.String })

const notSentCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT"
])

const errorCode = (cause: unknown): string => {
  let current: unknown = cause
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    if ("code" in current && typeof current.code === "string") return current.code
    current = "cause" in current ? current.cause : undefined
  }
  return "transport error"
}

const neverSent = (cause: unknown) => notSentCodes.has(errorCode(cause))

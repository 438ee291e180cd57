import { NodeHttpClient } from "@effect/platform-node"
import { Clock, Context, Duration, Effect, Layer, Option, Schema } from "effect"
import { HttpClient } from "effect/http"
import type { Dispatcher } from "undici"
import Pool from "undici/lib/dispatcher/pool.js"
import { AppConfig } from "../config/AppConfig.ts"
import { Metrics } from "../observability/Metrics.ts"
import { TracesExported } from "../observability/Tracing.ts"
import { Processor, processors } from "./Processor.ts"
import { SendDeadlines } from "./SendDeadlines.ts"

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
        const clock = yield* Clock.Clock
        const traced = yield* TracesExported
        const limit = config.processorConnections
        const deadlines = new SendDeadlines<Exchange>(Duration.toMillis(config.processorTimeout), timedOut)
        const slots = { default: makeSlots(limit), fallback: makeSlots(limit) }
        const pools = {
          default: yield* processorPool(config.processorUrls.default, config),
          fallback: yield* processorPool(config.processorUrls.fallback, config)
        }
        const paymentsPath = {
          default: `${new URL(config.processorUrls.default).pathname.replace(/\/+$/, "")}/payments`,
          fallback: `${new URL(config.processorUrls.fallback).pathname.replace(/\/+$/, "")}/payments`
        }
        const inFlight = { default: 0, fallback: 0 }
        // the usual outcome's latency is exposed from the start, before any payment
        for (const processor of processors) metrics.processorLatency.labels({ processor, outcome: "200" })
        metrics.processorInFlight.readFrom((gauge) => {
          for (const processor of processors) gauge.labels({ processor }).set(inFlight[processor])
        })

        // a connection permit: taken at once while one is free, else waited for up to the acquire timeout
        const awaitPermit = (processor: Processor): Effect.Effect<void, ProcessorUnavailable> =>
          Effect.callback<void>((resume) => {
            const waiter = () => resume(Effect.void)
            slots[processor].waiters.push(waiter)
            return Effect.sync(() => slots[processor].cancel(waiter))
          }).pipe(
            Effect.timeoutOrElse({
              duration: config.processorAcquireTimeout,
              orElse: () => Effect.fail(new ProcessorUnavailable({ processor, reason: "no connection available" }))
            })
          )
        const acquire = (processor: Processor): Effect.Effect<void, ProcessorUnavailable> =>
          Effect.suspend(() => slots[processor].tryTake() ? Effect.void : awaitPermit(processor))

        const withConnection = <A, E>(processor: Processor, effect: Effect.Effect<A, E>) =>
          Effect.acquireUseRelease(acquire(processor), () => effect, () => Effect.sync(() => slots[processor].give()))

        // settles a POST once: its deadline withdrawn, its permit given back, its latency observed, its fiber resumed
        const settle: Settle = (exchange, outcome, result) => {
          if (exchange.settled) return false
          exchange.settled = true
          deadlines.remove(exchange.ticket)
          slots[exchange.processor].give()
          inFlight[exchange.processor]--
          metrics.processorLatency.labels({ processor: exchange.processor, outcome }).observe(
            Number(clock.monotonicTimeNanosUnsafe() - exchange.startedAt) / 1e9
          )
          exchange.resume(result)
          return true
        }

        // one POST on the processor's pool: one deadline for the whole exchange, the body drained, no per-call client
        const post = (processor: Processor, payment: ProcessorPayment) =>
          Effect.callback<number, SendError>((resume) => {
            const exchange = new Exchange(processor, clock.monotonicTimeNanosUnsafe(), resume, settle)
            exchange.ticket = deadlines.add(exchange)
            inFlight[processor]++
            pools[processor].dispatch({
              method: "POST",
              path: paymentsPath[processor],
              headers: jsonHeaders,
              body:
                `{"correlationId":"${payment.correlationId}","amount":${payment.amount},"requestedAt":"${payment.requestedAt.toISOString()}"}`
            }, exchange)
            return Effect.sync(() => exchange.interrupt())
          })

        const outcome = (processor: Processor, status: number): Effect.Effect<SendOutcome, ProcessorUnavailable> =>
          status >= 200 && status < 300
            ? succeedProcessed
            : status === 422
            ? succeedDuplicate
            : Effect.fail(new ProcessorUnavailable({ processor, reason: `status ${status}` }))

        // the permit taken here is given back when the exchange settles
        const sendUntraced = (processor: Processor, payment: ProcessorPayment) =>
          Effect.flatMap(
            Effect.andThen(acquire(processor), post(processor, payment)),
            (status) => outcome(processor, status)
          )

        const send = traced
          ? Effect.fn("ProcessorGateway.send")(function*(processor: Processor, payment: ProcessorPayment) {
            yield* Effect.annotateCurrentSpan({ processor, correlationId: payment.correlationId })
            return yield* sendUntraced(processor, payment)
          })
          : sendUntraced

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
        // lookups and health calls are rare: node:http, which the server loads anyway, serves them
        Layer.provide(NodeHttpClient.layerNodeHttpOptions({ keepAlive: true, maxSockets: config.processorConnections }))
      )
    })
  )
}

type SendError = ProcessorUnavailable | ProcessorAmbiguous

/** Ends an exchange with `result` unless it has ended already; true when this call ended it. */
type Settle = (exchange: Exchange, outcome: string, result: Effect.Effect<number, SendError>) => boolean

/**
 * One POST in flight, as undici's dispatch handler: its state and callbacks in one object, where closures made per
 * send cost eight function objects each time, and V8 kept compiling them again (Maglev, TurboFan, Maglev, TurboFan
 * within 80 s at 300 payments/s).
 */
class Exchange implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | undefined = undefined
  status = 0
  settled = false
  /** Its deadline's, from `SendDeadlines`. */
  ticket = -1
  readonly processor: Processor
  readonly startedAt: bigint
  readonly resume: (result: Effect.Effect<number, SendError>) => void
  private readonly settle: Settle

  constructor(
    processor: Processor,
    startedAt: bigint,
    resume: (result: Effect.Effect<number, SendError>) => void,
    settle: Settle
  ) {
    this.processor = processor
    this.startedAt = startedAt
    this.resume = resume
    this.settle = settle
  }

  onRequestStart(controller: Dispatcher.DispatchController) {
    this.controller = controller
    if (this.settled) controller.abort(new Error("send interrupted"))
  }

  onResponseStart(_: Dispatcher.DispatchController, statusCode: number) {
    this.status = statusCode
  }

  onResponseData() {}

  onResponseEnd() {
    this.settle(this, String(this.status), Effect.succeed(this.status))
  }

  onResponseError(_: Dispatcher.DispatchController, error: Error) {
    const reason = errorCode(error)
    const processor = this.processor
    this.settle(
      this,
      reason,
      Effect.fail(
        notSentCodes.has(reason)
          ? new ProcessorUnavailable({ processor, reason })
          : new ProcessorAmbiguous({ processor, reason })
      )
    )
  }

  timeOut() {
    if (
      this.settle(
        this,
        "timeout",
        Effect.fail(new ProcessorAmbiguous({ processor: this.processor, reason: "timeout" }))
      )
    ) {
      this.controller?.abort(new Error("processor timeout"))
    }
  }

  interrupt() {
    if (this.settle(this, "interrupted", Effect.interrupt)) this.controller?.abort(new Error("send interrupted"))
  }
}

const timedOut = (exchange: Exchange) => exchange.timeOut()

const jsonHeaders = { "content-type": "application/json" }
const succeedProcessed = Effect.succeed<SendOutcome>("processed")
const succeedDuplicate = Effect.succeed<SendOutcome>("duplicate")

/** Connection permits: a count while one is free, and the waiters, woken one per permit given back. */
const makeSlots = (limit: number) => {
  let taken = 0
  const waiters: Array<() => void> = []
  return {
    waiters,
    tryTake: () => taken < limit && waiters.length === 0 ? (taken++, true) : false,
    give: () => {
      const next = waiters.shift()
      if (next === undefined) taken--
      else next()
    },
    cancel: (waiter: () => void) => {
      const index = waiters.indexOf(waiter)
      if (index !== -1) waiters.splice(index, 1)
    }
  }
}

/** The keep-alive connection pool to one processor, closed with the layer. */
const processorPool = (url: string, config: AppConfig["Service"]) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      new Pool(new URL(url).origin, {
        connections: config.processorConnections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        connect: { timeout: Duration.toMillis(config.processorAcquireTimeout) }
      })
    ),
    (pool) => Effect.promise(() => pool.destroy())
  )

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

/**
 * In-process stand-in for the official Rinha 2025 payment processor (zanfranceschi/payment-processor, a .NET 9
 * minimal API over PostgreSQL). It reproduces the wire behaviour the backend and the k6 harness observe: the
 * concurrency limiter, the configured delay that a client abort cannot cancel, the failure switch, duplicate
 * detection at insert, the health endpoint's global fixed-window rate limit, the admin endpoints and .NET's
 * lenient JSON binding.
 *
 * Over the ~400 lines the project aims for: it is one HTTP app whose routes share the limiter, the configuration
 * and the store, and it reads best as the processor it copies.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Context, Data, Duration, Effect, Latch, Layer } from "effect"
import type { Scope } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { HttpServerError } from "effect/http"
import * as Http from "node:http"

export interface SimulatorOptions {
  readonly fee: number
  readonly port?: number
  readonly host?: string
  readonly token?: string
  readonly maxInFlight?: number
  readonly maxQueued?: number
  readonly healthRateLimit?: Duration.Input
  readonly healthQueue?: number
}

export interface ProcessorSummary {
  readonly totalRequests: number
  readonly totalAmount: number
  readonly totalFee: number
  readonly feePerTransaction: number
}

export interface SimulatorStats {
  readonly paymentRequests: number
  readonly healthRequests: number
  readonly healthRejected: number
  readonly rejectedTooMany: number
  readonly inFlight: number
}

export interface AdminTraffic {
  /** Requests to any path under /admin, answered or not. */
  readonly adminRequests: number
  /** Requests that carried an X-Rinha-Token header, on any path. */
  readonly tokenRequests: number
}

export interface SimulatorHandle {
  readonly url: string
  readonly port: number
  readonly setDelay: (ms: number) => Effect.Effect<void>
  readonly setFailure: (failing: boolean) => Effect.Effect<void>
  readonly summary: (range?: { readonly from?: Date; readonly to?: Date }) => Effect.Effect<ProcessorSummary>
  readonly stats: Effect.Effect<SimulatorStats>
  readonly adminTraffic: Effect.Effect<AdminTraffic>
  readonly purge: Effect.Effect<void>
  /** The correlationIds this processor holds. */
  readonly correlationIds: Effect.Effect<ReadonlySet<string>>
  /** When each call to the health endpoint arrived (epoch milliseconds), answered or not. */
  readonly healthCallTimes: Effect.Effect<ReadonlyArray<number>>
}

export class ProcessorSimulator extends Context.Service<ProcessorSimulator, SimulatorHandle>()(
  "simulator/ProcessorSimulator"
) {}

/** Starts a simulator; the server stops when the scope closes. */
export const make: (
  options: SimulatorOptions
) => Effect.Effect<SimulatorHandle, HttpServerError.ServeError, Scope.Scope> = Effect.fnUntraced(function*(options) {
  const fee = parseDecimal(String(options.fee))
  if (fee === undefined) return yield* Effect.die(new Error(`invalid fee: ${options.fee}`))
  const healthWindow = Duration.fromInputUnsafe(options.healthRateLimit ?? "5 seconds")
  const simulator = makeState(options, fee, healthWindow)
  yield* Effect.forkScoped(simulator.healthLimiter.windows)
  const host = options.host ?? "127.0.0.1"
  const context = yield* Layer.build(
    HttpRouter.serve(routes(simulator, retryAfterSeconds(healthWindow)), {
      disableLogger: true,
      disableListenLog: true,
      middleware: (app) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          if (/^\/admin(\/|\?|$)/i.test(request.url)) simulator.adminTraffic.adminRequests++
          if (request.headers["x-rinha-token"] !== undefined) simulator.adminTraffic.tokenRequests++
          return app
        })
    }).pipe(
      Layer.provideMerge(
        NodeHttpServer.layerServer(() => Http.createServer({ keepAliveTimeout: 130_000 }), {
          port: options.port ?? 0,
          host
        })
      )
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  const port = address._tag === "UnixPathAddress" ? 0 : address.port
  return {
    url: `http://${connectableHost(host)}:${port}`,
    port,
    setDelay: (ms) => Effect.sync(() => simulator.config.delay = ms),
    setFailure: (failing) => Effect.sync(() => simulator.config.failure = failing),
    summary: (range) => Effect.sync(() => simulator.summarize(range?.from?.getTime(), range?.to?.getTime())),
    stats: Effect.sync(() => ({
      paymentRequests: simulator.counters.paymentRequests,
      healthRequests: simulator.counters.healthRequests,
      healthRejected: simulator.counters.healthRejected,
      rejectedTooMany: simulator.counters.rejectedTooMany,
      inFlight: simulator.paymentLimiter.inFlight()
    })),
    adminTraffic: Effect.sync(() => ({ ...simulator.adminTraffic })),
    purge: Effect.sync(() => simulator.payments.clear()),
    correlationIds: Effect.sync(() => new Set(simulator.payments.keys())),
    healthCallTimes: Effect.sync(() => [...simulator.healthCallTimes])
  }
})

/** The simulator as a service, for programs that run it next to other layers (`pnpm sim`, `pnpm dev`). */
export const layer = (options: SimulatorOptions): Layer.Layer<ProcessorSimulator, HttpServerError.ServeError> =>
  Layer.effect(ProcessorSimulator, make(options))

// == state

interface StoredPayment {
  readonly correlationId: string
  readonly cents: number
  readonly requestedAt: number
}

type Simulator = ReturnType<typeof makeState>

const makeState = (options: SimulatorOptions, fee: Decimal, healthWindow: Duration.Duration) => {
  const payments = new Map<string, StoredPayment>()
  return {
    payments,
    healthCallTimes: [] as Array<number>,
    config: { delay: 0, failure: false, token: (options.token ?? "123") as string | null },
    counters: { paymentRequests: 0, healthRequests: 0, healthRejected: 0, rejectedTooMany: 0 },
    adminTraffic: { adminRequests: 0, tokenRequests: 0 },
    paymentLimiter: makeConcurrencyLimiter(options.maxInFlight ?? 800, options.maxQueued ?? 500),
    healthLimiter: makeWindowLimiter(healthWindow, options.healthQueue ?? 2),
    summarize: (from: number | undefined, to: number | undefined): ProcessorSummary => {
      let totalRequests = 0
      let cents = 0
      for (const payment of payments.values()) {
        if (from === undefined || to === undefined || (payment.requestedAt >= from && payment.requestedAt <= to)) {
          totalRequests++
          cents += payment.cents
        }
      }
      const totalCents = BigInt(cents)
      return {
        totalRequests,
        totalAmount: Number(formatDecimal(totalCents, 2)),
        totalFee: Number(formatDecimal(totalCents * fee.coefficient, 2 + fee.scale)),
        feePerTransaction: options.fee
      }
    }
  }
}

const connectableHost = (host: string) =>
  host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host

const retryAfterSeconds = (window: Duration.Duration) => String(Math.max(1, Math.ceil(Duration.toSeconds(window))))

// == routes

class BadRequest extends Data.TaggedError("BadRequest")<{}> {}
class UnsupportedMediaType extends Data.TaggedError("UnsupportedMediaType")<{}> {}
class Unauthorized extends Data.TaggedError("Unauthorized")<{}> {}

const EmptyGuid = "00000000-0000-0000-0000-000000000000"
const MinDateTime = -62_135_596_800_000
const MaxDateTime = 253_402_300_800_000

const processed = HttpServerResponse.jsonUnsafe({ message: "payment processed successfully" })
const purged = HttpServerResponse.jsonUnsafe({ message: "All payments purged." })
const failed = HttpServerResponse.empty({ status: 500 })

const routes = (simulator: Simulator, retryAfter: string) => {
  const { config, counters, payments } = simulator
  const tooManyRequests = HttpServerResponse.text("Calm down, bitch. Try again later.", {
    status: 429,
    headers: { "retry-after": retryAfter }
  })

  const authorize = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (request.headers["x-rinha-token"] !== config.token) return yield* new Unauthorized()
  })

  const processPayment = Effect.gen(function*() {
    const body = yield* readJsonObject
    const correlationId = yield* bindField(body, "correlationId", asGuid, EmptyGuid)
    const cents = yield* bindField(body, "amount", asCents, 0)
    const requestedAt = yield* bindField(body, "requestedAt", asTimestamp, MinDateTime)
    if (config.delay > 0) yield* Effect.sleep(config.delay)
    if (config.failure) return failed
    if (payments.has(correlationId)) {
      return HttpServerResponse.jsonUnsafe(
        { message: `Payment could not be processed. CorrelationId already exists: ${correlationId}` },
        { status: 422 }
      )
    }
    payments.set(correlationId, { correlationId, cents, requestedAt })
    return processed
  })

  const postPayment = Effect.suspend(() => {
    counters.paymentRequests++
    return simulator.paymentLimiter.withPermit(processPayment, rejectTooMany)
  })

  const rejectTooMany = Effect.sync(() => {
    counters.rejectedTooMany++
    return tooManyRequests
  })

  const getPayment = Effect.gen(function*() {
    const { id } = yield* HttpRouter.params
    const correlationId = id === undefined ? undefined : parseRouteGuid(id)
    if (correlationId === undefined) return yield* new BadRequest()
    const payment = payments.get(correlationId)
    if (payment === undefined) return HttpServerResponse.empty({ status: 404 })
    return HttpServerResponse.jsonUnsafe({
      correlationId: payment.correlationId,
      amount: Number(formatDecimal(BigInt(payment.cents), 2)),
      requestedAt: new Date(Math.floor(payment.requestedAt)).toISOString()
    })
  })

  const serviceHealth = Effect.gen(function*() {
    counters.healthRequests++
    simulator.healthCallTimes.push(yield* Clock.currentTimeMillis)
    if (!(yield* simulator.healthLimiter.acquire)) {
      counters.healthRejected++
      return tooManyRequests
    }
    return HttpServerResponse.jsonUnsafe({ failing: config.failure, minResponseTime: config.delay })
  })

  const adminSummary = Effect.gen(function*() {
    const query = yield* HttpServerRequest.ParsedSearchParams
    const from = yield* bindQueryTimestamp(query, "from")
    const to = yield* bindQueryTimestamp(query, "to")
    yield* authorize
    const summary = simulator.summarize(from, to)
    return HttpServerResponse.jsonUnsafe({
      totalAmount: summary.totalAmount,
      totalRequests: summary.totalRequests,
      totalFee: summary.totalFee,
      feePerTransaction: summary.feePerTransaction
    })
  })

  const setToken = Effect.gen(function*() {
    const body = yield* readJsonObject
    const token = yield* bindField(body, "token", asNullableString, null)
    yield* authorize
    config.token = token
    return HttpServerResponse.empty({ status: 204 })
  })

  const setDelay = Effect.gen(function*() {
    const body = yield* readJsonObject
    const delay = yield* bindField(body, "delay", asInt32, 0)
    yield* authorize
    const was = config.delay
    config.delay = delay
    return HttpServerResponse.jsonUnsafe({ config: "delay", was, is: delay })
  })

  const setFailure = Effect.gen(function*() {
    const body = yield* readJsonObject
    const failure = yield* bindField(body, "failure", asBoolean, false)
    yield* authorize
    const was = config.failure
    config.failure = failure
    return HttpServerResponse.jsonUnsafe({ config: "failure", was, is: failure })
  })

  const purge = Effect.gen(function*() {
    yield* authorize
    payments.clear()
    return purged
  })

  return HttpRouter.use(Effect.fnUntraced(function*(router) {
    yield* router.add("GET", "/", HttpServerResponse.html(infoPage))
    yield* router.add("POST", "/payments", handled(postPayment), { uninterruptible: true })
    yield* router.add("GET", "/payments/service-health", serviceHealth)
    yield* router.add("GET", "/payments/:id", simulator.paymentLimiter.withPermit(handled(getPayment), rejectTooMany))
    yield* router.add("GET", "/admin/payments-summary", handled(adminSummary))
    yield* router.add("PUT", "/admin/configurations/token", handled(setToken))
    yield* router.add("PUT", "/admin/configurations/delay", handled(setDelay))
    yield* router.add("PUT", "/admin/configurations/failure", handled(setFailure))
    yield* router.add("POST", "/admin/purge-payments", handled(purge))
  }))
}

const handled = <R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, BadRequest | UnsupportedMediaType | Unauthorized, R>
) =>
  handler.pipe(
    Effect.catchTags({
      BadRequest: () => Effect.succeed(HttpServerResponse.empty({ status: 400 })),
      UnsupportedMediaType: () => Effect.succeed(HttpServerResponse.empty({ status: 415 })),
      Unauthorized: () => Effect.succeed(HttpServerResponse.empty({ status: 401 }))
    })
  )

const infoPage = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Payment Processor (simulator)</title></head>
<body>
<h1>Rinha de Backend 2025: Payment Processor (simulator)</h1>
<p>An in-process stand-in for the official payment processor.</p>
<ul>
<li><code>POST /payments</code> <code>{correlationId, amount, requestedAt}</code></li>
<li><code>GET /payments/service-health</code></li>
<li><code>GET /payments/{id}</code></li>
<li><code>GET /admin/payments-summary?from&amp;to</code> (X-Rinha-Token)</li>
<li><code>PUT /admin/configurations/token</code>, <code>/delay</code>, <code>/failure</code> (X-Rinha-Token)</li>
<li><code>POST /admin/purge-payments</code> (X-Rinha-Token)</li>
</ul>
</body>
</html>
`

// == limiters

interface Waiter {
  resume: ((effect: Effect.Effect<boolean>) => void) | undefined
  holdsPermit: boolean
}

const admitted = Effect.succeed(true)
const rejected = Effect.succeed(false)
// The woken fiber continues on a later tick, not inside the releasing fiber's stack.
const admittedLater = Effect.as(Effect.yieldNow, true)

const takeFirst = (queue: Set<Waiter>): Waiter | undefined => {
  const first = queue.values().next()
  if (first.done === true) return undefined
  queue.delete(first.value)
  first.value.holdsPermit = true
  return first.value
}

/**
 * ASP.NET's ConcurrencyLimiter: `maxInFlight` permits, then `maxQueued` FIFO waiters, then rejection. A permit
 * freed while someone waits passes straight to the oldest waiter. Waiting is interruptible, so a client that gives up
 * leaves the queue; a permit is released however the request ends.
 */
const makeConcurrencyLimiter = (maxInFlight: number, maxQueued: number) => {
  let inFlight = 0
  const queue = new Set<Waiter>()

  const release = () => {
    const next = takeFirst(queue)
    if (next === undefined) inFlight--
    else next.resume?.(admittedLater)
  }

  const acquire = Effect.suspend(() => {
    const waiter: Waiter = { resume: undefined, holdsPermit: false }
    return Effect.callback<boolean>((resume) => {
      if (inFlight < maxInFlight) {
        inFlight++
        waiter.holdsPermit = true
        return resume(admitted)
      }
      if (queue.size >= maxQueued) return resume(rejected)
      waiter.resume = resume
      queue.add(waiter)
    }).pipe(
      Effect.interruptible,
      Effect.onInterrupt(() =>
        Effect.sync(() => {
          if (waiter.holdsPermit) release()
          else queue.delete(waiter)
        })
      )
    )
  })

  return {
    inFlight: () => inFlight,
    withPermit: <A, E, R, A2, E2, R2>(effect: Effect.Effect<A, E, R>, onRejected: Effect.Effect<A2, E2, R2>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          acquire,
          (ok): Effect.Effect<A | A2, E | E2, R | R2> =>
            ok ? Effect.ensuring(restore(effect), Effect.sync(release)) : restore(onRejected)
        )
      )
  }
}

/**
 * .NET's FixedWindowRateLimiter with one permit per window and `queueLimit` FIFO waiters. Windows start with the
 * first request, as .NET creates the limiter then. At each window boundary the window's permit goes to the oldest
 * waiter, or becomes available.
 */
const makeWindowLimiter = (window: Duration.Duration, queueLimit: number) => {
  let available = true
  const queue = new Set<Waiter>()
  const firstRequest = Latch.makeUnsafe(false)

  const replenish = () => {
    const next = takeFirst(queue)
    if (next === undefined) available = true
    else next.resume?.(admitted)
  }

  const acquire = Effect.suspend(() => {
    const waiter: Waiter = { resume: undefined, holdsPermit: false }
    return Effect.callback<boolean>((resume) => {
      firstRequest.openUnsafe()
      if (available && queue.size === 0) {
        available = false
        return resume(admitted)
      }
      if (queue.size >= queueLimit) return resume(rejected)
      waiter.resume = resume
      queue.add(waiter)
    }).pipe(Effect.onInterrupt(() => Effect.sync(() => queue.delete(waiter))))
  })

  const windows = firstRequest.await.pipe(
    Effect.andThen(Effect.forever(Effect.andThen(Effect.sleep(window), Effect.sync(replenish))))
  )

  return { acquire, windows }
}

// == .NET-style lenient binding

/** A JSON number with the exact text it was written with, so decimals are not squeezed through a double. */
class JsonNumber {
  readonly source: string
  constructor(source: string) {
    this.source = source
  }
}

type JsonBody = ReadonlyMap<string, unknown>

const reviveNumbers = (_key: string, value: unknown, context?: { readonly source?: string }) =>
  typeof value === "number" ? new JsonNumber(context?.source ?? String(value)) : value

const isJsonContentType = (contentType: string | undefined) => {
  if (contentType === undefined) return false
  const mediaType = contentType.split(";", 1)[0].trim().toLowerCase()
  return mediaType === "application/json" || mediaType.endsWith("+json")
}

/** Property names match case-insensitively and unknown ones are ignored, as with System.Text.Json's web defaults. */
const readJsonObject: Effect.Effect<
  JsonBody,
  BadRequest | UnsupportedMediaType,
  HttpServerRequest.HttpServerRequest
> = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  if (!isJsonContentType(request.headers["content-type"])) return yield* new UnsupportedMediaType()
  const text = yield* Effect.mapError(request.text, () => new BadRequest())
  const parsed: unknown = yield* Effect.try({
    try: () => JSON.parse(text, reviveNumbers),
    catch: () => new BadRequest()
  })
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return yield* new BadRequest()
  const body = new Map<string, unknown>()
  for (const [key, value] of Object.entries(parsed)) body.set(key.toLowerCase(), value)
  return body
})

const bindField = <A>(
  body: JsonBody,
  name: string,
  bind: (value: unknown) => A | undefined,
  fallback: A
): Effect.Effect<A, BadRequest> => {
  const key = name.toLowerCase()
  if (!body.has(key)) return Effect.succeed(fallback)
  const value = bind(body.get(key))
  return value === undefined ? Effect.fail(new BadRequest()) : Effect.succeed(value)
}

const numberText = (value: unknown) =>
  value instanceof JsonNumber ? value.source : typeof value === "string" ? value : undefined

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const asGuid = (value: unknown) =>
  typeof value === "string" && guidPattern.test(value) ? value.toLowerCase() : undefined

const routeGuidPattern = /^[{(]?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})[})]?$/i

const parseRouteGuid = (text: string) => {
  const match = routeGuidPattern.exec(text.trim())
  return match === null ? undefined : match.slice(1).join("-").toLowerCase()
}

const asCents = (value: unknown) => {
  const text = numberText(value)
  const decimal = text === undefined ? undefined : parseDecimal(text)
  if (decimal === undefined) return undefined
  const cents = Number(rescale(decimal, 2))
  return Number.isSafeInteger(cents) ? cents : undefined
}

const asInt32 = (value: unknown) => {
  const text = numberText(value)
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined
  const int = Number(text)
  return int >= -2_147_483_648 && int <= 2_147_483_647 ? int : undefined
}

const asBoolean = (value: unknown) => typeof value === "boolean" ? value : undefined

const asNullableString = (value: unknown) => typeof value === "string" || value === null ? value : undefined

const asTimestamp = (value: unknown) => typeof value === "string" ? parseTimestamp(value) : undefined

/** Query keys match case-insensitively; a missing or empty value is no bound at all. */
const bindQueryTimestamp = Effect.fnUntraced(function*(
  query: Readonly<Record<string, string | ReadonlyArray<string>>>,
  name: string
) {
  const key = Object.keys(query).find((key) => key.toLowerCase() === name)
  const value = key === undefined ? undefined : query[key]
  if (value === undefined || value === "") return undefined
  const timestamp = typeof value === "string" ? parseTimestamp(value) : undefined
  if (timestamp === undefined) return yield* new BadRequest()
  return timestamp
})

// == decimals

/** `coefficient / 10^scale`, exact. */
interface Decimal {
  readonly coefficient: bigint
  readonly scale: number
}

const decimalPattern = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/

const parseDecimal = (text: string): Decimal | undefined => {
  const match = decimalPattern.exec(text)
  if (match === null) return undefined
  const [, sign, integer, fraction = "", exponentText] = match
  if (integer === "" && fraction === "") return undefined
  const exponent = exponentText === undefined ? 0 : Number(exponentText)
  if (Math.abs(exponent) > 1000) return undefined
  const digits = BigInt(integer + fraction)
  const coefficient = sign === "-" ? -digits : digits
  const scale = fraction.length - exponent
  return scale >= 0 ? { coefficient, scale } : { coefficient: coefficient * 10n ** BigInt(-scale), scale: 0 }
}

/** Rounds half away from zero, like PostgreSQL's `round(numeric, s)`. */
const rescale = (decimal: Decimal, scale: number): bigint => {
  if (decimal.scale <= scale) return decimal.coefficient * 10n ** BigInt(scale - decimal.scale)
  const divisor = 10n ** BigInt(decimal.scale - scale)
  const quotient = decimal.coefficient / divisor
  const remainder = decimal.coefficient % divisor
  const magnitude = remainder < 0n ? -remainder : remainder
  if (magnitude * 2n < divisor) return quotient
  return decimal.coefficient < 0n ? quotient - 1n : quotient + 1n
}

const formatDecimal = (coefficient: bigint, scale: number): string => {
  const negative = coefficient < 0n
  const digits = (negative ? -coefficient : coefficient).toString().padStart(scale + 1, "0")
  const integer = digits.slice(0, digits.length - scale)
  const fraction = digits.slice(digits.length - scale)
  return `${negative ? "-" : ""}${integer}${scale > 0 ? `.${fraction}` : ""}`
}

// == timestamps: epoch milliseconds, with microseconds as the fractional part

const timestampPattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i

const parseTimestamp = (text: string): number | undefined => {
  const match = timestampPattern.exec(text.trim())
  if (match === null) return undefined
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) =>
    part === undefined ? undefined : Number(part)
  )
  if (year === undefined || month === undefined || day === undefined) return undefined
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined
  if (hour > 23 || minute > 59 || second > 59) return undefined
  const micros = match[7] === undefined ? 0 : Number(match[7].slice(0, 6).padEnd(6, "0"))
  const offsetMinutes = parseOffset(match[8])
  if (offsetMinutes === undefined) return undefined
  const seconds = (hour * 60 + minute - offsetMinutes) * 60 + second
  const millis = daysFromCivil(year, month, day) * 86_400_000 + seconds * 1000 + micros / 1000
  return millis >= MinDateTime && millis < MaxDateTime ? millis : undefined
}

const parseOffset = (offset: string | undefined): number | undefined => {
  if (offset === undefined || offset.toUpperCase() === "Z") return 0
  const digits = offset.slice(1).replace(":", "")
  const hours = Number(digits.slice(0, 2))
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0
  if (hours > 14 || minutes > 59) return undefined
  return (offset[0] === "-" ? -1 : 1) * (hours * 60 + minutes)
}

const isLeapYear = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)

const daysInMonth = (year: number, month: number) =>
  month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31

/** Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm); valid for year 1. */
const daysFromCivil = (year: number, month: number, day: number) => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear
  return era * 146_097 + dayOfEra - 719_468
}

import { Effect, Schema } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { AppConfig } from "../config/AppConfig.ts"
import { invalid } from "../http/ApiError.ts"
import { decodeOrInvalid, readJson } from "../http/RequestBody.ts"
import { PaymentRequest, wellFormedPayment } from "./Payment.ts"
import { Payments } from "./Payments.ts"

const decodeOrExplain = decodeOrInvalid(PaymentRequest)
const decodePayment = (input: unknown) => {
  const payment = wellFormedPayment(input)
  return payment === undefined ? decodeOrExplain(input) : Effect.succeed(payment)
}

// a declared empty body: no chunked framing to write
const accepted = HttpServerResponse.empty({ status: 202, headers: { "content-length": "0" } })

const instantPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i

const Instant = Schema.String.check(
  Schema.makeFilter((s: string) => instantPattern.test(s) && Number.isFinite(Date.parse(s)), {
    expected: "an ISO-8601 instant such as 2025-08-20T12:34:56.789Z"
  })
)

const SummaryQuery = Schema.Struct({
  from: Schema.optional(Instant),
  to: Schema.optional(Instant)
})

const decodeSummaryQuery = decodeOrInvalid(SummaryQuery, "query")

const summaryRange = Effect.gen(function*() {
  const params = yield* HttpServerRequest.ParsedSearchParams
  const present: Record<string, unknown> = {}
  for (const name of ["from", "to"] as const) {
    const value = params[name]
    if (Array.isArray(value)) return yield* invalid(name, "given more than once")
    if (typeof value === "string" && value !== "") present[name] = value
  }
  const query = yield* decodeSummaryQuery(present)
  const from = query.from === undefined ? undefined : new Date(query.from)
  const to = query.to === undefined ? undefined : new Date(query.to)
  if (from !== undefined && to !== undefined && from > to) return yield* invalid("from", "must not be after to")
  return { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) }
})

/** The payment routes' handlers, one call to `Payments` each; `src/Api.ts` lists the routes. */
export const PaymentHandlers = Effect.gen(function*() {
  const { bodyLimit } = yield* AppConfig
  const payments = yield* Payments

  return {
    accept: readJson(bodyLimit).pipe(
      Effect.flatMap(decodePayment),
      Effect.flatMap(payments.accept),
      Effect.as(accepted)
    ),
    summary: Effect.map(Effect.flatMap(summaryRange, payments.summary), HttpServerResponse.jsonUnsafe),
    purge: Effect.map(
      payments.purge,
      (dropped) => HttpServerResponse.jsonUnsafe({ purged: true, droppedFromQueue: dropped })
    )
  }
})

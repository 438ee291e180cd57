import { Clock, Effect, Option, Schema } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { AppConfig } from "../config/AppConfig.ts"
import { invalid, ServiceUnavailable } from "../http/ApiError.ts"
import { decodeOrInvalid, readJson } from "../http/RequestBody.ts"
import { PaymentRequest, type SummaryRange } from "./Payment.ts"
import { PaymentIntake } from "./PaymentIntake.ts"
import { PaymentQueue } from "./PaymentQueue.ts"
import { PaymentRecorder } from "./PaymentRecorder.ts"
import { PaymentRepository } from "./PaymentRepository.ts"
import { PeerRecorders } from "./PeerRecorders.ts"

const decodePayment = decodeOrInvalid(PaymentRequest)

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

/** The payment routes' handlers; `src/Api.ts` lists the routes. */
export const PaymentHandlers = Effect.gen(function*() {
  const { bodyLimit, summaryRecordWait } = yield* AppConfig
  const queue = yield* PaymentQueue
  const intake = yield* PaymentIntake
  const repository = yield* PaymentRepository
  // absent where nothing forwards or records (the API alone, in tests): then nothing can be pending either
  const recorder = yield* Effect.serviceOption(PaymentRecorder)
  const peers = yield* Effect.serviceOption(PeerRecorders)
  const clock = yield* Clock.Clock

  /** Runs `wait` on the service when it is there; a reason it answers is a 503 with that reason. */
  const unavailableUnless = <A>(
    service: Option.Option<A>,
    wait: (service: A) => Effect.Effect<string | undefined>
  ): Effect.Effect<void, ServiceUnavailable> =>
    Option.match(service, {
      onNone: () => Effect.void,
      onSome: (service) =>
        Effect.flatMap(wait(service), (reason) =>
          reason === undefined ? Effect.void : Effect.fail(new ServiceUnavailable({ reason })))
    })

  // the processors hold what the recorder still holds: until it is written the totals would be low, not exact
  const recordedSoFar = (range: SummaryRange) =>
    unavailableUnless(recorder, (recorder) =>
      Effect.map(
        recorder.awaitWritten(range, summaryRecordWait),
        (caughtUp) =>
          caughtUp
            ? undefined
            : "payments the processors accepted are not recorded yet (the payments store is behind or down)"
      ))

  // the other instances' recorders, up to the moment the summary was asked
  const peersRecordedSince = (since: number) =>
    unavailableUnless(peers, (peers) =>
      Effect.map(
        peers.awaitCaughtUp(since, summaryRecordWait),
        (late) =>
          late.length === 0
            ? undefined
            : `instance ${late.join(", ")} has not recorded the payments the processors accepted yet`
      ))

  return {
    accept: readJson(bodyLimit).pipe(
      Effect.flatMap(decodePayment),
      Effect.flatMap(intake.accept),
      Effect.as(accepted)
    ),
    // as of the moment it was asked, as the processors' summaries read at that moment: what any instance got an
    // answer for before then is waited for, what is answered while it waits is left out
    summary: Effect.gen(function*() {
      const asOf = clock.currentTimeMillisUnsafe()
      const range = yield* summaryRange
      yield* recordedSoFar(range)
      yield* peersRecordedSince(asOf)
      const summary = yield* repository.summary(range, new Date(asOf)).pipe(
        Effect.mapError(() => new ServiceUnavailable({ reason: "the payments store cannot be read" }))
      )
      return HttpServerResponse.jsonUnsafe(summary)
    }),
    purge: Effect.gen(function*() {
      const dropped = yield* queue.purge
      yield* intake.purge
      yield* repository.purge.pipe(
        Effect.mapError(() => new ServiceUnavailable({ reason: "the payments store cannot be purged" }))
      )
      return HttpServerResponse.jsonUnsafe({ purged: true, droppedFromQueue: dropped })
    })
  }
})

import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { HttpServerRespondable } from "effect/http"
import { AppConfig } from "../config/AppConfig.ts"
import { unavailableResponse } from "../http/ApiError.ts"
import type { PaymentRequest, PaymentsSummary, SummaryRange } from "./Payment.ts"
import { type IntakeUnavailable, PaymentIntake } from "./PaymentIntake.ts"
import { type OfferResult, PaymentQueue, type QueueFull } from "./PaymentQueue.ts"
import { PaymentRecorder } from "./PaymentRecorder.ts"
import { PaymentRepository } from "./PaymentRepository.ts"
import { PeerRecorders } from "./PeerRecorders.ts"

/** The totals cannot be exact now, or the store cannot be purged: 503 `unavailable` with the reason. */
export class PaymentsUnavailable extends Schema.TaggedError<PaymentsUnavailable>()("PaymentsUnavailable", {
  reason: Schema.String
}) {
  [HttpServerRespondable.symbol]() {
    return unavailableResponse(this.reason)
  }
}

const make = Effect.gen(function*() {
  const { summaryRecordWait } = yield* AppConfig
  const queue = yield* PaymentQueue
  const intake = yield* PaymentIntake
  const repository = yield* PaymentRepository
  // absent where nothing forwards or records (the API alone, in tests): then nothing can be pending either
  const recorder = yield* Effect.serviceOption(PaymentRecorder)
  const peers = yield* Effect.serviceOption(PeerRecorders)
  const clock = yield* Clock.Clock

  /** Runs `wait` on the service when it is there; a reason it answers makes the totals unavailable. */
  const unavailableUnless = <A>(
    service: Option.Option<A>,
    wait: (service: A) => Effect.Effect<string | undefined>
  ): Effect.Effect<void, PaymentsUnavailable> =>
    Option.match(service, {
      onNone: () => Effect.void,
      onSome: (service) =>
        Effect.flatMap(wait(service), (reason) =>
          reason === undefined ? Effect.void : Effect.fail(new PaymentsUnavailable({ reason })))
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

  // as of the moment it was asked, as the processors' summaries read at that moment: what any instance got an
  // answer for before then is waited for, what is answered while it waits is left out
  const summary = Effect.fnUntraced(function*(range: SummaryRange) {
    const asOf = clock.currentTimeMillisUnsafe()
    yield* Effect.all([recordedSoFar(range), peersRecordedSince(asOf)], { concurrency: 2, discard: true })
    return yield* repository.summary(range, new Date(asOf)).pipe(
      Effect.mapError(() => new PaymentsUnavailable({ reason: "the payments store cannot be read" }))
    )
  })

  const purge = Effect.gen(function*() {
    const dropped = yield* queue.purge
    yield* intake.purge
    yield* repository.purge.pipe(
      Effect.mapError(() => new PaymentsUnavailable({ reason: "the payments store cannot be purged" }))
    )
    return dropped
  })

  return Payments.of({ accept: intake.accept, summary, purge })
})

/** What the API asks of the payment path: take a payment, total what is recorded, forget everything. */
export class Payments extends Context.Service<Payments, {
  readonly accept: (payment: PaymentRequest) => Effect.Effect<OfferResult, QueueFull | IntakeUnavailable>
  /** Totals as of now, once every recorder wrote what the processors accepted before now (else unavailable). */
  readonly summary: (range: SummaryRange) => Effect.Effect<PaymentsSummary, PaymentsUnavailable>
  /** Drops the queue, the durable intake and the stored payments; how many payments the queue dropped. */
  readonly purge: Effect.Effect<number, IntakeUnavailable | PaymentsUnavailable>
}>()("app/payments/Payments") {
  static readonly layer: Layer.Layer<Payments, never, AppConfig | PaymentIntake | PaymentQueue | PaymentRepository> =
    Layer.effect(Payments, make)
}

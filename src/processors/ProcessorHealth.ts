import { Clock, Context, Deferred, Duration, Effect, Layer, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { AppConfig } from "../config/AppConfig.ts"
import { Metrics } from "../observability/Metrics.ts"
import { type Processor, processors, type ProcessorView } from "./Processor.ts"
import { ProcessorGateway } from "./ProcessorGateway.ts"

/** What the elected poller last read from a processor's health endpoint. */
export interface PolledHealth {
  readonly failing: boolean
  readonly minResponseTime: number
  /** Epoch milliseconds of the reading. */
  readonly checkedAt: number
}

export type SendResult = "answered" | "refused" | "no-answer"

/**
 * How often waiters of `awaitChange` are woken when nothing changed, milliseconds: how long a held payment waits
 * before it is routed again. Readings and refusals wake it at once; what only time changes (a refusal's suspicion
 * running out) waits for this. Hundreds of payments may be held at once, so each recheck is paid hundreds of times a
 * second.
 */
export const recheckInterval = 1000

/** Latency the passive signals must exceed the polled delay by before they raise the estimate, milliseconds. */
const passiveTolerance = 250

interface State {
  polled: PolledHealth | undefined
  /** The processor refused a payment: treat it as failing until then (epoch ms). */
  suspectUntil: number
  /** Slowest answer observed since the last poll, milliseconds. */
  slowestSincePoll: number
  /** Start times (epoch ms) of the sends still waiting for an answer, by send. */
  readonly pending: Map<number, number>
}

/**
 * Each instance's view of the two processors. The health endpoint is read by one elected poller for the whole
 * deployment (a lease row in PostgreSQL) and shared through a table every instance reads; between readings each
 * instance adds what its own sends show: a refusal marks the processor failing for a moment, a slow answer or a
 * send still pending raises its delay estimate.
 */
export class ProcessorHealth extends Context.Service<ProcessorHealth, {
  readonly view: (processor: Processor) => Effect.Effect<ProcessorView>
  /** The view at `now` (epoch milliseconds), read without an effect: the forwarder asks once per send. */
  readonly viewAt: (processor: Processor, now: number) => ProcessorView
  /** Times a send and feeds its outcome to the passive signals. */
  readonly track: <A, E>(
    processor: Processor,
    send: Effect.Effect<A, E>,
    classify: (exit: { readonly ok: boolean; readonly error?: E }) => SendResult
  ) => Effect.Effect<A, E>
  /**
   * Completes when the view of any processor changes, or after `within`, whichever is first; a wait of a second or
   * more may also end at the next once-a-second tick, which every such waiter shares.
   */
  readonly awaitChange: (within: Duration.Input) => Effect.Effect<void>
  readonly polled: (processor: Processor) => PolledHealth | undefined
}>()("app/processors/ProcessorHealth") {
  /** The view alone: fed by `setPolled` and the passive signals, no database and no poller. */
  static readonly make = Effect.gen(function*() {
    const config = yield* AppConfig
    const metrics = yield* Metrics
    const states: Record<Processor, State> = {
      default: { polled: undefined, suspectUntil: 0, slowestSincePoll: 0, pending: new Map() },
      fallback: { polled: undefined, suspectUntil: 0, slowestSincePoll: 0, pending: new Map() }
    }
    let changed = yield* Deferred.make<void>()
    let sends = 0
    const signal = Effect.suspend(() => {
      const fired = changed
      return Effect.flatMap(Deferred.make<void>(), (next) => {
        changed = next
        return Deferred.succeed(fired, undefined)
      })
    })
    const stale = Duration.toMillis(config.health.pollInterval) * 3
    const suspectFor = Duration.toMillis(config.routing.suspectFor)
    const clock = yield* Clock.Clock
    const scope = yield* Effect.scope
    // what only time changes (a refusal's suspicion running out) is announced by one tick for every waiter: a timer
    // per wait would be two fibers a second for each of hundreds of held payments, each living long enough to be
    // promoted to the old generation
    let tickScheduled = false
    const scheduleTick = Effect.suspend(() => {
      if (tickScheduled) return Effect.void
      tickScheduled = true
      const tick = Effect.suspend(() => {
        tickScheduled = false
        return signal
      })
      return Effect.asVoid(Effect.forkIn(Effect.delay(tick, recheckInterval), scope))
    })

    const viewAt = (processor: Processor, now: number): ProcessorView => {
      const state = states[processor]
      const polled = state.polled !== undefined && now - state.polled.checkedAt <= stale ? state.polled : undefined
      // sends are added in the order they start, so the first one pending is the oldest
      const oldest = state.pending.size === 0 ? now : Math.min(now, state.pending.values().next().value ?? now)
      // how long the oldest send still waiting has waited, less what it may take without being news
      const pendingFor = now - oldest - passiveTolerance
      return {
        failing: (polled?.failing ?? false) || now < state.suspectUntil,
        delay: Math.max(polled?.minResponseTime ?? 0, state.slowestSincePoll - passiveTolerance, pendingFor),
        slowerThanKnown: polled !== undefined && pendingFor > Math.max(polled.minResponseTime, state.slowestSincePoll)
      }
    }

    const publish = Effect.map(Clock.currentTimeMillis, (now) => {
      for (const processor of processors) {
        const view = viewAt(processor, now)
        metrics.processorFailing.labels({ processor }).set(view.failing ? 1 : 0)
        metrics.processorDelay.labels({ processor }).set(view.delay / 1000)
      }
    })

    const setPolled = (processor: Processor, polled: PolledHealth) =>
      Effect.suspend(() => {
        const state = states[processor]
        const previous = state.polled
        if (previous !== undefined && previous.checkedAt >= polled.checkedAt) return Effect.void
        state.polled = polled
        state.slowestSincePoll = 0
        if (!polled.failing) state.suspectUntil = 0
        return previous?.failing === polled.failing && previous.minResponseTime === polled.minResponseTime
          ? Effect.void
          : signal
      })

    const track = <A, E>(
      processor: Processor,
      send: Effect.Effect<A, E>,
      classify: (exit: { readonly ok: boolean; readonly error?: E }) => SendResult
    ) =>
      Effect.suspend(() => {
        const state = states[processor]
        const startedAt = clock.currentTimeMillisUnsafe()
        const token = ++sends
        state.pending.set(token, startedAt)
        return Effect.onExit(send, (exit) => {
          state.pending.delete(token)
          const now = clock.currentTimeMillisUnsafe()
          const result = exit._tag === "Success"
            ? classify({ ok: true })
            : classify({
              ok: false,
              ...(exit.cause.reasons[0]?._tag === "Fail" ? { error: exit.cause.reasons[0].error } : {})
            })
          if (result === "refused") {
            const wasFailing = now < state.suspectUntil
            state.suspectUntil = now + suspectFor
            return wasFailing ? Effect.void : signal
          }
          state.slowestSincePoll = Math.max(state.slowestSincePoll, now - startedAt)
          if (result === "answered" && now < state.suspectUntil && exit._tag === "Success") {
            state.suspectUntil = 0
            return signal
          }
          return Effect.void
        })
      })

    return {
      service: ProcessorHealth.of({
        view: (processor) => Effect.map(Clock.currentTimeMillis, (now) => viewAt(processor, now)),
        viewAt,
        track,
        awaitChange: (within) =>
          Effect.suspend(() =>
            Duration.toMillis(Duration.fromInputUnsafe(within)) >= recheckInterval
              ? Effect.andThen(scheduleTick, Effect.suspend(() => Deferred.await(changed)))
              : Deferred.await(changed).pipe(Effect.timeoutOption(within), Effect.asVoid)
          ),
        polled: (processor) => states[processor].polled
      }),
      setPolled,
      publish
    }
  })

  /** The view plus the table reader and, when this instance holds the lease, the poller. */
  static readonly layer: Layer.Layer<
    ProcessorHealth,
    never,
    AppConfig | Metrics | ProcessorGateway | SqlClient.SqlClient
  > = Layer.effect(
    ProcessorHealth,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const metrics = yield* Metrics
      const gateway = yield* ProcessorGateway
      const sql = yield* SqlClient.SqlClient
      const { publish, service, setPolled } = yield* ProcessorHealth.make
      const holder = `${config.instanceId}-${randomUUID()}`
      const leaseMillis = Duration.toMillis(config.health.lease)
      const pollMillis = Duration.toMillis(config.health.pollInterval)

      const poll = (processor: Processor) =>
        Effect.gen(function*() {
          const report = yield* Effect.result(gateway.health(processor))
          metrics.healthCalls.labels({ processor, outcome: report._tag === "Success" ? "ok" : report.failure.reason })
            .inc()
          if (report._tag === "Failure") return
          yield* sql`
            UPDATE processor_health
            SET failing = ${report.success.failing}, min_response_time = ${Math.round(report.success.minResponseTime)},
                checked_at = now()
            WHERE processor = ${processor}`
        }).pipe(Effect.catchCause((cause) => Effect.logDebug("health poll failed", cause)))

      // one statement an interval: renew the poller's lease (or take it over when it expired), claim the processors
      // that are due, and read the readings every instance shares. The claim is the budget: only one claim per poll
      // interval succeeds, whoever holds the lease. The readings are the statement's snapshot, taken before any of
      // its updates, which touch only the lease and polled_at.
      const exchange = sql<{
        readonly processor: Processor
        readonly failing: boolean
        readonly min_response_time: number
        readonly checked_ms: number | null
        readonly leased: boolean
        readonly claimed: boolean
      }>`
        WITH lease AS (
          UPDATE health_poller_lease
          SET holder = ${holder}, expires_at = now() + ${leaseMillis} * interval '1 millisecond'
          WHERE id = 1 AND (holder = ${holder} OR expires_at < now())
          RETURNING holder
        ), claimed AS (
          UPDATE processor_health SET polled_at = now()
          WHERE EXISTS (SELECT 1 FROM lease) AND polled_at <= now() - ${pollMillis} * interval '1 millisecond'
          RETURNING processor
        )
        SELECT h.processor, h.failing, h.min_response_time,
               (extract(epoch from h.checked_at) * 1000)::float8 AS checked_ms,
               EXISTS (SELECT 1 FROM lease) AS leased,
               h.processor IN (SELECT processor FROM claimed) AS claimed
        FROM processor_health h`

      const scope = yield* Effect.scope
      // the polls run beside the loop: a slow health endpoint does not hold up the readings
      const tick = Effect.gen(function*() {
        const rows = yield* exchange
        for (const row of rows) {
          if (row.checked_ms === null) continue
          yield* setPolled(row.processor, {
            failing: row.failing,
            minResponseTime: row.min_response_time,
            checkedAt: Number(row.checked_ms)
          })
        }
        yield* publish
        metrics.healthPoller.set(rows.some((row) => row.leased) ? 1 : 0)
        const due = rows.filter((row) => row.claimed).map((row) => row.processor)
        if (due.length > 0) {
          yield* Effect.forkIn(Effect.forEach(due, poll, { concurrency: "unbounded", discard: true }), scope)
        }
      })

      // the first tick before the layer is built, so the view starts from the shared readings; the loop one interval on
      yield* tick.pipe(Effect.ignore)
      yield* tick.pipe(
        Effect.catchCause((cause) => Effect.logDebug("health refresh failed, retrying", cause)),
        Effect.repeat(Schedule.spaced(config.health.refreshInterval)),
        Effect.delay(config.health.refreshInterval),
        Effect.forkScoped
      )
      yield* Effect.addFinalizer(() =>
        sql`UPDATE health_poller_lease SET expires_at = 'epoch' WHERE id = 1 AND holder = ${holder}`.pipe(Effect.ignore)
      )
      return service
    })
  )

  /** A fixed view for tests: both processors healthy and instant unless `setPolled` says otherwise. */
  static readonly layerTest: Layer.Layer<ProcessorHealth, never, AppConfig | Metrics> = Layer.effect(
    ProcessorHealth,
    Effect.map(ProcessorHealth.make, ({ service }) => service)
  )
}

/**
 * How often the CFS quota stopped each limited service, read from its cgroup's `cpu.stat`. A throttled period stops
 * every thread of the service until the next period begins (up to ~40 ms at 0.575 CPU), and each request it holds
 * then waits that long; the report keeps the seconds it happened in, to set beside each second's p99.
 */
import { Clock, type Duration, Effect, Fiber, type Scope } from "effect"
import type { LimitGroup } from "./Limits.ts"
import type { CpuThrottling, ThrottleSample } from "./Model.ts"
import { round } from "./ProcessSampler.ts"

export interface ThrottleSampler {
  /** Reads once more and stops: the seconds in which a service was throttled, and each service's totals. */
  readonly finish: Effect.Effect<{
    readonly samples: ReadonlyArray<ThrottleSample>
    readonly totals: ReadonlyMap<string, CpuThrottling>
  }>
}

/**
 * Reads every group's counters now and then every `interval` until `finish` (or the scope closes). A sample is one
 * service's throttling since the previous reading, kept only when it was throttled; `t` is seconds since `startedAt`
 * (epoch millis) by the Effect `Clock`. Totals count from this call.
 */
export const makeThrottleSampler = Effect.fn("Throttling.makeSampler")(
  function*(
    groups: ReadonlyMap<string, LimitGroup>,
    options: { readonly interval: Duration.Input; readonly startedAt: number }
  ): Effect.fn.Return<ThrottleSampler, never, Scope.Scope> {
    const first = new Map<string, CpuThrottling>()
    for (const [service, group] of groups) {
      const reading = yield* group.throttling
      if (reading !== undefined) first.set(service, reading)
    }
    const last = new Map(first)
    const samples: Array<ThrottleSample> = []

    const sample = Effect.gen(function*() {
      for (const [service, group] of groups) {
        const previous = last.get(service)
        const reading = yield* group.throttling
        if (previous === undefined || reading === undefined) continue
        last.set(service, reading)
        const throttledPeriods = reading.throttledPeriods - previous.throttledPeriods
        if (throttledPeriods <= 0) continue
        samples.push({
          t: round(((yield* Clock.currentTimeMillis) - options.startedAt) / 1000, 3),
          service,
          throttledPeriods,
          throttledMs: round(reading.throttledMs - previous.throttledMs, 1)
        })
      }
    })

    const fiber = yield* sample.pipe(Effect.delay(options.interval), Effect.forever, Effect.forkScoped)

    return {
      finish: Effect.gen(function*() {
        yield* Fiber.interrupt(fiber)
        yield* sample
        const totals = new Map<string, CpuThrottling>()
        for (const [service, start] of first) {
          const end = last.get(service) ?? start
          totals.set(service, {
            periods: end.periods - start.periods,
            throttledPeriods: end.throttledPeriods - start.throttledPeriods,
            throttledMs: round(end.throttledMs - start.throttledMs, 1)
          })
        }
        return { samples: samples.slice(), totals }
      })
    }
  }
)

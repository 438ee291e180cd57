import { Clock, Context, Duration, Effect, Layer, Schedule } from "effect"
import { cpuUsage } from "node:process"
import { AppConfig } from "../config/AppConfig.ts"

export interface DrainSettings {
  /** Sends a second beyond arrivals that a backlog may always use. */
  readonly base: number
  /** The most the drain rises to while the CPU has room. */
  readonly max: number
  /** Share of one core (0..1) this instance's process may use before the drain falls back toward `base`. */
  readonly cpuTarget: number
}

/** How often the process's CPU is read, and the drain rate set again. */
export const drainSampleInterval = Duration.millis(100)

/**
 * The drain rate after one reading of the CPU share the process used: a tenth of the way from `base` to `max` higher
 * while under the target, halved (never below `base`) when over it. The drain reaches `max` a second into an idle
 * spell and falls back within a few readings of a busy one.
 */
export const nextDrainRate = (rate: number, cpuShare: number, settings: DrainSettings): number =>
  cpuShare < settings.cpuTarget
    ? Math.min(settings.max, rate + (settings.max - settings.base) / 10)
    : Math.max(settings.base, rate / 2)

/**
 * How fast a backlog may drain, in sends a second beyond the arrival rate: `ROUTING_DRAIN_RATE` at least, and up to
 * `ROUTING_DRAIN_MAX_RATE` while the process uses less of a core than `ROUTING_DRAIN_CPU_TARGET`. A backlog left by an
 * outage then goes out as fast as the CPU leaves room for, instead of at a rate fixed for the busiest case. With the
 * maximum at or below the base rate the drain stays fixed and nothing reads the CPU.
 */
export class DrainRate extends Context.Service<DrainRate, {
  /** Sends a second beyond the arrival rate, now. */
  readonly current: () => number
}>()("app/payments/DrainRate") {
  /** Read from `cpuMicros` (microseconds of CPU the process has used, user and system) every sample interval. */
  static readonly make = (cpuMicros: () => number) =>
    Effect.gen(function*() {
      const { routing } = yield* AppConfig
      const settings: DrainSettings = {
        base: routing.drainRate,
        max: Math.max(routing.drainRate, routing.drainMaxRate),
        cpuTarget: routing.drainCpuTarget
      }
      let rate = settings.base
      if (settings.max > settings.base) {
        const clock = yield* Clock.Clock
        let readAt = clock.currentTimeMillisUnsafe()
        let used = cpuMicros()
        yield* Effect.sync(() => {
          const now = clock.currentTimeMillisUnsafe()
          const usedNow = cpuMicros()
          if (now > readAt) rate = nextDrainRate(rate, (usedNow - used) / ((now - readAt) * 1000), settings)
          readAt = now
          used = usedNow
        }).pipe(Effect.repeat(Schedule.spaced(drainSampleInterval)), Effect.forkScoped)
      }
      return DrainRate.of({ current: () => rate })
    })

  static readonly layer: Layer.Layer<DrainRate, never, AppConfig> = Layer.effect(
    DrainRate,
    DrainRate.make(() => {
      const { system, user } = cpuUsage()
      return user + system
    })
  )
}

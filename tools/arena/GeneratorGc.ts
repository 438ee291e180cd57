/**
 * The load generator's own garbage collections over the scenario. The generator stamps each answer when its
 * callback runs, so an answer that arrives during one of its pauses is timed late by what is left of the pause:
 * part of the latency floor that k6 (Go) does not add to the official test's.
 */
import { Effect, type Scope } from "effect"
import { constants, type NodeGCPerformanceDetail, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks"
import type { GeneratorGc, GeneratorGcPauses } from "./Model.ts"
import { round } from "./ProcessSampler.ts"

interface Tally {
  count: number
  ms: number
  longestMs: number
}

const tally = (): Tally => ({ count: 0, ms: 0, longestMs: 0 })

const add = (into: Tally, ms: number) => {
  into.count++
  into.ms += ms
  if (ms > into.longestMs) into.longestMs = ms
}

const pauses = ({ count, longestMs, ms }: Tally): GeneratorGcPauses => ({
  count,
  seconds: round(ms / 1000, 3),
  longestMs: round(longestMs, 1)
})

/** The kind of a `gc` performance entry (`NODE_PERFORMANCE_GC_*`), which Node's types leave out of the entry's. */
const kindOf = (entry: PerformanceEntry) => (entry as { readonly detail?: NodeGCPerformanceDetail }).detail?.kind

const addAll = (entries: ReadonlyArray<PerformanceEntry>, minor: Tally, major: Tally) => {
  for (const entry of entries) {
    add(kindOf(entry) === constants.NODE_PERFORMANCE_GC_MINOR ? minor : major, entry.duration)
  }
}

/**
 * Counts this process's collections from now until `finish` (or the scope closes): scavenges as minor, every other
 * kind (mark-compact, incremental marking, weak callbacks) as major.
 */
export const watchGeneratorGc: Effect.Effect<{ readonly finish: Effect.Effect<GeneratorGc> }, never, Scope.Scope> =
  Effect.gen(function*() {
    const minor = tally()
    const major = tally()
    const observer = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const observer = new PerformanceObserver((list) => addAll(list.getEntries(), minor, major))
        observer.observe({ entryTypes: ["gc"] })
        return observer
      }),
      (observer) => Effect.sync(() => observer.disconnect())
    )
    return {
      finish: Effect.sync(() => {
        // entries are delivered in batches: what is still buffered counts too
        addAll(observer.takeRecords(), minor, major)
        observer.disconnect()
        return { minor: pauses(minor), major: pauses(major) }
      })
    }
  })

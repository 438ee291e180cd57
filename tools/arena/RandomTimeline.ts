/**
 * Seeded random timelines, `--timeline random:SEED`: ten stages shaped like the official final's.
 *
 * - Stages start every tenth of the duration; the first, at 0, has both processors healthy and without delay.
 * - Every later stage draws each processor's delay and failure independently. Delays follow the proportions of the
 *   official final's twenty conditions (seven at 0 ms, eight under a second, five of 1–5 s): 0 ms with probability
 *   7/20; 1–999 ms log-uniform (median about 30 ms, like the final's 5, 10, 50, 100 and 500) with 8/20; 1,000–5,000
 *   ms uniform with 5/20. A processor fails with probability 1/5.
 * - Both processors are never failing together for more than 15 s in a row: when a stage would stretch a both-down
 *   run past that, one of the two recovers, chosen by a coin of the same generator.
 * - The generator is SplitMix64 seeded with SEED, rather than Effect's Random, so that a seed keeps naming the same
 *   timeline across Effect versions.
 */
import { Result } from "effect"
import type { ProcessorCondition, ProcessorName, Stage } from "./Model.ts"

export const stageCount = 10
export const maxDelay = 5000
export const failureProbability = 0.2
/** Seconds. */
export const maxBothDown = 15

const mask64 = (1n << 64n) - 1n

/** Uniform draws in [0, 1), 53 bits each. */
const splitMix64 = (seed: number): () => number => {
  let state = BigInt(seed)
  return () => {
    state = (state + 0x9e3779b97f4a7c15n) & mask64
    let z = state
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask64
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask64
    z ^= z >> 31n
    return Number(z >> 11n) / 2 ** 53
  }
}

const drawDelay = (next: () => number): number => {
  const kind = next()
  if (kind < 7 / 20) return 0
  if (kind < 15 / 20) return Math.floor(1000 ** next())
  return 1000 + Math.floor(next() * (maxDelay - 1000 + 1))
}

const drawCondition = (next: () => number): ProcessorCondition => {
  const delay = drawDelay(next)
  return { delay, failure: next() < failureProbability }
}

const healthy: ProcessorCondition = { delay: 0, failure: false }

/** The timeline of a seed for a scenario of `duration` seconds; the same arguments give the same stages. */
export const randomStages = (seed: number, duration: number): ReadonlyArray<Stage> => {
  const next = splitMix64(seed)
  const starts = Array.from({ length: stageCount }, (_, i) => Math.round(i * duration / stageCount * 1000) / 1000)
  const stages: Array<Stage> = [{ at: 0, default: healthy, fallback: healthy }]
  let bothDownSince: number | undefined = undefined
  for (let i = 1; i < stageCount; i++) {
    const at = starts[i]
    const end = i + 1 < stageCount ? starts[i + 1] : duration
    const drawn: Stage = { at, default: drawCondition(next), fallback: drawCondition(next) }
    const since: number | undefined = drawn.default.failure && drawn.fallback.failure ? bothDownSince ?? at : undefined
    if (since === undefined || end - since <= maxBothDown) {
      bothDownSince = since
      stages.push(drawn)
    } else {
      bothDownSince = undefined
      const recovering: ProcessorName = next() < 0.5 ? "default" : "fallback"
      stages.push({ ...drawn, [recovering]: { ...drawn[recovering], failure: false } })
    }
  }
  return stages
}

export const randomPrefix = "random:"

export const isRandomTimeline = (argument: string): boolean => argument.startsWith(randomPrefix)

/** The seed of a `random:SEED` argument: decimal digits naming a safe integer. */
export const parseRandomTimeline = (argument: string): Result.Result<number, string> => {
  if (!isRandomTimeline(argument)) return Result.fail(`"${argument}" is not ${randomPrefix}SEED`)
  const digits = argument.slice(randomPrefix.length)
  const seed = Number(digits)
  return /^\d+$/.test(digits) && Number.isSafeInteger(seed)
    ? Result.succeed(seed)
    : Result.fail(`seed "${digits}" is not a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`)
}

import { Effect, Schema } from "effect"
import { readFile } from "node:fs/promises"
import type { Profile, Stage } from "./Model.ts"

const stage = (at: number, d: readonly [number, boolean], f: readonly [number, boolean]): Stage => ({
  at,
  default: { delay: d[0], failure: d[1] },
  fallback: { delay: f[0], failure: f[1] }
})

/** rinha-final.js: the stage_00 … stage_09 scenarios (spec §5.3). */
export const finalStages: ReadonlyArray<Stage> = [
  stage(1, [0, false], [0, false]),
  stage(30, [1000, false], [0, false]),
  stage(60, [500, false], [0, false]),
  stage(90, [2000, true], [1000, false]),
  stage(120, [5000, true], [5, false]),
  stage(150, [0, false], [5, true]),
  stage(180, [100, false], [5, false]),
  stage(210, [50, false], [0, false]),
  stage(240, [103, false], [10, false]),
  stage(270, [2000, false], [0, false])
]

/** rinha.js, the preview (spec §5.6). */
export const previewStages: ReadonlyArray<Stage> = [
  stage(1, [0, false], [0, false]),
  stage(10, [100, false], [0, false]),
  stage(20, [100, true], [0, false]),
  stage(30, [2000, true], [1000, true]),
  stage(40, [20, false], [20, false]),
  stage(50, [0, false], [5000, false])
]

/** The stages stretched or squeezed in time to fit a scenario of another length; conditions are unchanged. */
export const scaleStages = (stages: ReadonlyArray<Stage>, from: number, to: number): ReadonlyArray<Stage> =>
  stages.map((s) => ({ ...s, at: Math.round((s.at * to / from) * 1000) / 1000 }))

const finalCheck = { interval: 10, windowStart: 15, windowEnd: 2, formula: "sumOfAbs" } as const

export const profiles: Readonly<Record<"final" | "preview" | "smoke", Profile>> = {
  final: {
    name: "final",
    duration: 300,
    maxVus: 603,
    amount: 20.05,
    fees: { default: 0.07, fallback: 0.1 },
    stages: finalStages,
    check: finalCheck,
    teardown: { source: "processors", window: 360 },
    requestTimeout: 1500
  },
  preview: {
    name: "preview",
    duration: 60,
    maxVus: 550,
    amount: 19.9,
    fees: { default: 0.05, fallback: 0.15 },
    stages: previewStages,
    check: { interval: 10, windowStart: 15, windowEnd: 1.5, formula: "absOfSum" },
    teardown: { source: "backend", window: 70 },
    requestTimeout: 1500
  },
  smoke: {
    name: "smoke",
    duration: 40,
    maxVus: 100,
    amount: 20.05,
    fees: { default: 0.07, fallback: 0.1 },
    stages: scaleStages(finalStages, 300, 40),
    check: { ...finalCheck, interval: 5 },
    teardown: { source: "processors", window: 360 },
    requestTimeout: 1500
  }
}

export type ProfileName = keyof typeof profiles

export const isProfileName = (name: string): name is ProfileName => Object.hasOwn(profiles, name)

const Condition = Schema.Struct({ delay: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)), failure: Schema.Boolean })
const StageJson = Schema.Struct({
  at: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  default: Condition,
  fallback: Condition
})
export const TimelineJson = Schema.Array(StageJson)

export class TimelineError extends Schema.TaggedError<TimelineError>()("TimelineError", {
  file: Schema.String,
  message: Schema.String
}) {}

/** A JSON list of stages `[{at, default: {delay, failure}, fallback: {delay, failure}}]`, seconds from the start. */
export const readTimeline = Effect.fn("Profiles.readTimeline")(function*(file: string) {
  const text = yield* Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (cause) => new TimelineError({ file, message: `cannot read: ${String(cause)}` })
  })
  const json = yield* Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: () => new TimelineError({ file, message: "not valid JSON" })
  })
  const stages = yield* Schema.decodeUnknownEffect(TimelineJson)(json).pipe(
    Effect.mapError((error) => new TimelineError({ file, message: error.message }))
  )
  return [...stages].sort((a, b) => a.at - b.at)
})

/** A profile with the command line's overrides applied; a new duration rescales the profile's own stages. */
export const customize = (
  profile: Profile,
  overrides: { readonly vus?: number; readonly duration?: number; readonly stages?: ReadonlyArray<Stage> }
): Profile => {
  const duration = overrides.duration ?? profile.duration
  return {
    ...profile,
    duration,
    maxVus: overrides.vus ?? profile.maxVus,
    stages: overrides.stages ?? (duration === profile.duration
      ? profile.stages
      : scaleStages(profile.stages, profile.duration, duration))
  }
}

/** Virtual users active at second t of a linear ramp from 1 to maxVus over the duration (k6 ramping-vus). */
export const vusAt = (profile: Pick<Profile, "maxVus" | "duration">, t: number): number => {
  if (t <= 0) return 1
  if (t >= profile.duration) return profile.maxVus
  return 1 + Math.floor((profile.maxVus - 1) * t / profile.duration)
}

/** The second at which the n-th virtual user (1-based) starts. */
export const vuStartAt = (profile: Pick<Profile, "maxVus" | "duration">, n: number): number =>
  n <= 1 ? 0 : Math.ceil((n - 1) * profile.duration / (profile.maxVus - 1) * 1000) / 1000

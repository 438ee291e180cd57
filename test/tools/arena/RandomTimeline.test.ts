import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import type { ProcessorName, Stage } from "../../../tools/arena/Model.ts"
import { isRandomTimeline, parseRandomTimeline, randomStages } from "../../../tools/arena/RandomTimeline.ts"

const seeds = Array.from({ length: 1000 }, (_, i) => i)
const processors: ReadonlyArray<ProcessorName> = ["default", "fallback"]

/** The longest stretch, in seconds, during which both processors fail, runs of consecutive stages joined. */
const longestBothDown = (stages: ReadonlyArray<Stage>, duration: number): number => {
  let longest = 0
  let since: number | undefined = undefined
  stages.forEach((stage, i) => {
    const end = i + 1 < stages.length ? stages[i + 1].at : duration
    if (stage.default.failure && stage.fallback.failure) {
      since ??= stage.at
      longest = Math.max(longest, end - since)
    } else {
      since = undefined
    }
  })
  return longest
}

describe("randomStages", () => {
  it("gives the same timeline for the same seed and duration, whatever was generated in between", () => {
    for (const duration of [40, 120, 300]) {
      const first = randomStages(7, duration)
      randomStages(8, duration)
      assert.deepStrictEqual(randomStages(7, duration), first)
      assert.deepStrictEqual(
        randomStages(Number.MAX_SAFE_INTEGER, duration),
        randomStages(Number.MAX_SAFE_INTEGER, duration)
      )
    }
  })

  it("gives different timelines for different seeds, including seeds 2³² apart", () => {
    const timelines = new Set(seeds.slice(0, 200).map((seed) => JSON.stringify(randomStages(seed, 300))))
    assert.strictEqual(timelines.size, 200)
    assert.notDeepEqual(randomStages(0, 300), randomStages(2 ** 32, 300))
    assert.notDeepEqual(
      randomStages(Number.MAX_SAFE_INTEGER, 300),
      randomStages(Number.MAX_SAFE_INTEGER - 1, 300)
    )
  })

  it("has 10 stages, increasing from 0 within the duration, the first with both processors healthy", () => {
    for (const duration of [1, 40, 47, 120, 300]) {
      for (const seed of seeds.slice(0, 100)) {
        const stages = randomStages(seed, duration)
        assert.strictEqual(stages.length, 10)
        assert.deepStrictEqual(stages[0], {
          at: 0,
          default: { delay: 0, failure: false },
          fallback: { delay: 0, failure: false }
        })
        stages.slice(1).forEach((stage, i) => assert.isTrue(stage.at > stages[i].at, `seed ${seed}, stage ${i + 1}`))
        assert.isBelow(stages[9].at, duration)
      }
    }
  })

  it("draws whole-millisecond delays from 0 to 5,000, mostly under a second and sometimes of seconds", () => {
    const delays = Array.from({ length: 5000 }, (_, seed) => seed).flatMap((seed) =>
      randomStages(seed, 300).slice(1).flatMap((stage) => processors.map((p) => stage[p].delay))
    )
    for (const delay of delays) {
      assert.isTrue(Number.isInteger(delay) && delay >= 0 && delay <= 5000, `delay ${delay}`)
    }
    const share = (keep: (delay: number) => boolean) => delays.filter(keep).length / delays.length
    assert.isAbove(share((d) => d < 1000), 0.6)
    assert.isAbove(share((d) => d < 100), 0.4)
    assert.isAbove(share((d) => d >= 1000), 0.15)
    assert.isAbove(share((d) => d > 4000), 0.02)
    assert.isAtLeast(Math.max(...delays), 4990)
    assert.isAbove(share((d) => d === 0), 0.1)
    assert.isAbove(share((d) => d > 0 && d < 1000), 0.2)
  })

  it("fails each processor in about a fifth of the drawn stages, independently", () => {
    for (const duration of [120, 300]) {
      const drawn = seeds.flatMap((seed) => randomStages(seed, duration).slice(1))
      for (const p of processors) {
        const share = drawn.filter((stage) => stage[p].failure).length / drawn.length
        assert.isTrue(share >= 0.15 && share <= 0.25, `${p} at ${duration} s: ${share}`)
      }
    }
    // 4 s stages: three in a row (12 s) are allowed, so coincidences mostly survive, at about 1/5 × 1/5
    const short = seeds.flatMap((seed) => randomStages(seed, 40).slice(1))
    const both = short.filter((stage) => stage.default.failure && stage.fallback.failure).length / short.length
    assert.isTrue(both >= 0.025 && both <= 0.055, `both failing: ${both}`)
  })

  it("never has both processors failing for more than 15 s in a row", () => {
    for (const duration of [10, 40, 47, 120, 150, 160, 300]) {
      for (const seed of seeds) {
        const longest = longestBothDown(randomStages(seed, duration), duration)
        assert.isAtMost(longest, 15, `seed ${seed}, ${duration} s`)
      }
    }
  })

  it("keeps both-down stretches that fit in 15 s", () => {
    const longestAt = (duration: number) =>
      Math.max(...seeds.map((seed) => longestBothDown(randomStages(seed, duration), duration)))
    assert.strictEqual(longestAt(300), 0)
    assert.strictEqual(longestAt(120), 12)
    assert.isAbove(longestAt(40), 4)
  })
})

describe("parseRandomTimeline", () => {
  it("reads the seed of random:SEED", () => {
    assert.deepStrictEqual(parseRandomTimeline("random:0"), Result.succeed(0))
    assert.deepStrictEqual(parseRandomTimeline("random:42"), Result.succeed(42))
    assert.deepStrictEqual(parseRandomTimeline("random:007"), Result.succeed(7))
    assert.deepStrictEqual(
      parseRandomTimeline(`random:${Number.MAX_SAFE_INTEGER}`),
      Result.succeed(Number.MAX_SAFE_INTEGER)
    )
  })

  it("rejects anything but a non-negative safe integer in decimal digits", () => {
    const bad = [
      "random:",
      "random:-1",
      "random:1.5",
      "random:abc",
      "random:1e3",
      "random:0x10",
      "random: 1",
      "random:1 ",
      "random:42abc",
      `random:${Number.MAX_SAFE_INTEGER + 1}`,
      "random:99999999999999999999",
      "timeline.json",
      "Random:1"
    ]
    for (const argument of bad) {
      assert.isTrue(Result.isFailure(parseRandomTimeline(argument)), argument)
    }
  })

  it("tells a random timeline from a file by its prefix", () => {
    assert.isTrue(isRandomTimeline("random:1"))
    assert.isTrue(isRandomTimeline("random:x"))
    assert.isFalse(isRandomTimeline("tools/arena/timelines/both-down-15s.json"))
    assert.isFalse(isRandomTimeline("./random:1.json"))
  })
})

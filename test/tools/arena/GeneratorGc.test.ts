import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { watchGeneratorGc } from "../../../tools/arena/GeneratorGc.ts"

/** Short-lived garbage, far more than a young generation holds. */
const churn = () => {
  let kept = 0
  for (let i = 0; i < 2_000_000; i++) kept += [i, { i }, `${i}`].length
  return kept
}

describe("watchGeneratorGc", () => {
  it.live("counts this process's collections between its start and finish, with their total and longest pause", () =>
    Effect.gen(function*() {
      const watch = yield* watchGeneratorGc
      churn()
      // the observer is called back after the collection, from the event loop
      yield* Effect.sleep("50 millis")
      const { major, minor } = yield* watch.finish
      assert.isAbove(minor.count, 0)
      assert.isAbove(minor.seconds, 0)
      assert.isAbove(minor.longestMs, 0)
      // the total is rounded to the millisecond, the longest to a tenth of one
      assert.isAtMost(minor.longestMs, minor.seconds * 1000 + 1)
      assert.isAtLeast(major.count, 0)
      churn()
      yield* Effect.sleep("50 millis")
      assert.deepStrictEqual(yield* watch.finish, { major, minor }, "nothing counts after finish")
    }).pipe(Effect.scoped))
})

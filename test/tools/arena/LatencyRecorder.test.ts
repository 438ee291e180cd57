import { assert, describe, it } from "@effect/vitest"
import { LatencyRecorder } from "../../../tools/arena/LatencyRecorder.ts"
import type { Stage } from "../../../tools/arena/Model.ts"

const stage = (at: number, defaultFailing: boolean): Stage => ({
  at,
  default: { delay: 0, failure: defaultFailing },
  fallback: { delay: 0, failure: false }
})

const stages = [stage(1, false), stage(10, true), stage(20, false)]

const recorded = (observations: ReadonlyArray<readonly [endedAt: number, ms: number, status?: number]>) => {
  const recorder = new LatencyRecorder()
  for (const [endedAt, ms, status = 200] of observations) recorder.record({ endedAt, ms, status, payment: true })
  return recorder
}

describe("LatencyRecorder.byStage", () => {
  it("puts each expected request in the stage it ended in, the first from 0 s and the last to the end", () => {
    const byStage = recorded([[0.2, 1], [9.99, 2], [10, 3], [19.5, 4], [20, 5], [400, 6]]).byStage(stages, 100)
    assert.deepStrictEqual(byStage.map((s) => s.requests), [2, 2, 2])
    assert.deepStrictEqual(byStage.map((s) => s.at), [1, 10, 20])
    assert.deepStrictEqual(byStage.map((s) => s.default.failure), [false, true, false])
  })

  it("counts in each stage the requests slower than the threshold, and only those", () => {
    const byStage = recorded([[2, 5], [3, 10], [4, 10.01], [12, 50], [13, 9], [25, 11]]).byStage(stages, 10)
    assert.deepStrictEqual(byStage.map((s) => s.slowest), [1, 1, 1])
  })

  it("gives each stage k6's p99 of its own requests, and none to a stage nothing ended in", () => {
    const latencies = Array.from({ length: 101 }, (_, i) => i)
    const byStage = recorded(latencies.map((ms) => [15, ms] as const)).byStage(stages, 1000)
    assert.deepStrictEqual(byStage.map((s) => s.p99), [null, 99, null])
  })

  it("leaves out what the official p99 leaves out: answers other than 2xx and 3xx", () => {
    const byStage = recorded([[2, 1, 500], [3, 900, 0], [4, 2, 204], [12, 3, 422]]).byStage(stages, 1)
    assert.deepStrictEqual(byStage.map((s) => s.requests), [1, 0, 0])
    assert.deepStrictEqual(byStage.map((s) => s.slowest), [1, 0, 0])
  })

  it("is empty without stages", () => {
    assert.deepStrictEqual(recorded([[1, 1]]).byStage([], 0), [])
  })
})

import { assert, describe, it } from "@effect/vitest"
import { makeSendPacing } from "../../src/payments/SendPacing.ts"

describe("SendPacing", () => {
  it("lets a burst leave at once, then gives each later send its own slot, evenly spaced", () => {
    const pacing = makeSendPacing(100, 3)
    const waits = Array.from({ length: 6 }, () => pacing.reserve(1_000))
    assert.deepStrictEqual(waits, [0, 0, 0, 10, 20, 30])
  })

  it("never lets more than the rate plus the burst leave in a second, however many senders ask", () => {
    const pacing = makeSendPacing(450, 45)
    const leaving = Array.from({ length: 2_000 }, () => pacing.reserve(0)).filter((wait) => wait < 1_000)
    assert.strictEqual(leaving.length, 450 + 44)
  })

  it("does not bank unused time beyond the burst", () => {
    const pacing = makeSendPacing(100, 2)
    assert.strictEqual(pacing.reserve(0), 0)
    const afterIdle = Array.from({ length: 4 }, () => pacing.reserve(60_000))
    assert.deepStrictEqual(afterIdle, [0, 0, 10, 20])
  })

  it("serves a sender asking later from the slots left, not from scratch", () => {
    const pacing = makeSendPacing(100, 1)
    assert.deepStrictEqual([pacing.reserve(0), pacing.reserve(0), pacing.reserve(0)], [0, 10, 20])
    assert.strictEqual(pacing.reserve(15), 15, "the next slot is at 30 ms")
    assert.strictEqual(pacing.reserve(100), 0, "idle again")
  })
})

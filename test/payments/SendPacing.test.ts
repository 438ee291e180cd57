import { assert, describe, it } from "@effect/vitest"
import { makeSendPacing } from "../../src/payments/SendPacing.ts"

describe("SendPacing", () => {
  it("lets a burst leave at once, then gives each later send its own slot, evenly spaced", () => {
    const pacing = makeSendPacing(30)
    const waits = Array.from({ length: 6 }, () => pacing.reserve(1_000, 100))
    assert.deepStrictEqual(waits, [0, 0, 0, 10, 20, 30])
  })

  it("never lets more than the rate plus the burst leave in a second, however many senders ask", () => {
    const pacing = makeSendPacing(100)
    const leaving = Array.from({ length: 2_000 }, () => pacing.reserve(0, 450)).filter((wait) => wait < 1_000)
    assert.strictEqual(leaving.length, 450 + 44)
  })

  it("does not bank unused time beyond the burst", () => {
    const pacing = makeSendPacing(20)
    assert.strictEqual(pacing.reserve(0, 100), 0)
    const afterIdle = Array.from({ length: 4 }, () => pacing.reserve(60_000, 100))
    assert.deepStrictEqual(afterIdle, [0, 0, 10, 20])
  })

  it("serves a sender asking later from the slots left, not from scratch", () => {
    const pacing = makeSendPacing(10)
    assert.deepStrictEqual([pacing.reserve(0, 100), pacing.reserve(0, 100), pacing.reserve(0, 100)], [0, 10, 20])
    assert.strictEqual(pacing.reserve(15, 100), 15, "the next slot is at 30 ms")
    assert.strictEqual(pacing.reserve(100, 100), 0, "idle again")
  })

  it("spaces each send by the rate it was reserved at, so a rate that changes applies from the next send", () => {
    const pacing = makeSendPacing(10)
    assert.deepStrictEqual(
      [pacing.reserve(0, 100), pacing.reserve(0, 50), pacing.reserve(0, 25), pacing.reserve(0, 100)],
      [0, 10, 30, 70]
    )
  })
})

import { assert, describe, it } from "@effect/vitest"
import { fullPace, type Pace, paceSend, pacing } from "../../src/payments/SendPacing.ts"

/** Sends tried every millisecond from `from` for `duration` ms: how many left. */
const sendsOver = (rate: number, start: Pace, from: number, duration: number) => {
  const settings = pacing(rate)
  let pace = start
  let sent = 0
  for (let now = from; now < from + duration; now++) {
    for (;;) {
      const next = paceSend(settings, pace, now)
      pace = next.pace
      if (next.wait > 0) break
      sent++
    }
  }
  return { sent, pace }
}

describe("SendPacing", () => {
  it("holds a tenth of a second's worth, and at least one send", () => {
    assert.deepStrictEqual(pacing(450), { perMilli: 0.45, burst: 45 })
    assert.strictEqual(pacing(5).burst, 1)
  })

  it("lets a full bucket's burst through at once, then says how long until the next send", () => {
    const settings = pacing(450)
    let pace = fullPace(settings, 0)
    for (let i = 0; i < 45; i++) {
      const next = paceSend(settings, pace, 0)
      assert.strictEqual(next.wait, 0, `send ${i + 1}`)
      pace = next.pace
    }
    const refused = paceSend(settings, pace, 0)
    assert.strictEqual(refused.wait, 3, "1 token at 0.45 per millisecond")
    assert.strictEqual(paceSend(settings, refused.pace, 2).wait, 1)
    assert.strictEqual(paceSend(settings, refused.pace, 3).wait, 0, "after the wait it says, a send leaves")
  })

  it("sends at most the rate per second, plus the burst it starts with", () => {
    const settings = pacing(450)
    const { pace, sent } = sendsOver(450, fullPace(settings, 0), 0, 10_000)
    assert.isAtMost(sent, 450 * 10 + 45)
    assert.isAtLeast(sent, 450 * 10)
    assert.isBelow(pace.tokens, 1, "kept busy, the bucket stays empty")
  })

  it("refills no further than the burst after a long idle", () => {
    const settings = pacing(450)
    const drained = sendsOver(450, fullPace(settings, 0), 0, 1).pace
    const { sent } = sendsOver(450, drained, 60_000, 1)
    assert.strictEqual(sent, 45)
  })
})

import { afterEach, assert, beforeEach, describe, it, vi } from "@effect/vitest"
import * as fc from "fast-check"
import { SendDeadlines } from "../../src/processors/SendDeadlines.ts"

const steps = fc.array(
  fc.oneof(
    fc.record({ _tag: fc.constant("add" as const), count: fc.integer({ min: 1, max: 150 }) }),
    fc.record({ _tag: fc.constant("remove" as const), pick: fc.nat() }),
    fc.record({ _tag: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 700 }) })
  ),
  { maxLength: 60 }
)

interface Send {
  readonly id: number
  readonly addedAt: number
  ticket: number
  removed: boolean
  expiredAt: number | undefined
}

describe("SendDeadlines", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it("expires every send not withdrawn exactly once, at its deadline, and no withdrawn one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), steps, fc.boolean(), (timeout, plan, resend) => {
        vi.setSystemTime(0)
        const sends: Array<Send> = []
        const add = () => {
          const send: Send = {
            id: sends.length,
            addedAt: performance.now(),
            ticket: -1,
            removed: false,
            expiredAt: undefined
          }
          sends.push(send)
          send.ticket = deadlines.add(send)
        }
        const deadlines = new SendDeadlines<Send>(timeout, (send) => {
          assert.isUndefined(send.expiredAt, `send ${send.id} expired twice`)
          assert.isFalse(send.removed, `send ${send.id} expired after it was withdrawn`)
          send.expiredAt = performance.now()
          // an expired send is routed again at once, from inside the timer's callback
          if (resend && send.id % 3 === 0) add()
        })
        for (const step of plan) {
          if (step._tag === "add") { for (let i = 0; i < step.count; i++) add() }
          else if (step._tag === "wait") vi.advanceTimersByTime(step.ms)
          else if (sends.length > 0) {
            // a send that expired is withdrawn too, when its fiber settles it: that must change nothing
            const send = sends[step.pick % sends.length]
            if (send.expiredAt === undefined) send.removed = true
            deadlines.remove(send.ticket)
          }
        }
        vi.runAllTimers()
        for (const send of sends) {
          if (send.removed) continue
          assert.isDefined(send.expiredAt, `send ${send.id} never expired`)
          const late = send.expiredAt - (send.addedAt + timeout)
          assert.isAtLeast(late, 0, `send ${send.id} expired before its deadline`)
          assert.isAtMost(late, 1, `send ${send.id} expired after its deadline`)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("keeps one timer for any number of pending sends, one that does not hold the process open", () => {
    const armed = vi.spyOn(globalThis, "setTimeout")
    const deadlines = new SendDeadlines<number>(10_000, () => {})
    const tickets = Array.from({ length: 1_000 }, (_, i) => deadlines.add(i))
    assert.strictEqual(vi.getTimerCount(), 1)
    assert.strictEqual(armed.mock.calls.length, 1)
    assert.isFalse(armed.mock.results[0].value.hasRef())
    for (const ticket of tickets) deadlines.remove(ticket)
    vi.advanceTimersByTime(10_000)
    assert.strictEqual(vi.getTimerCount(), 0, "nothing pending: not armed again")
  })

  it("withdrawing an expired send leaves the send now in its slot pending", () => {
    const expired: Array<number> = []
    const deadlines = new SendDeadlines<number>(100, (n) => expired.push(n))
    const first = deadlines.add(0)
    vi.advanceTimersByTime(100)
    // 64 more fill the ring's first 64 slots, the last of them the expired send's
    for (let n = 1; n <= 64; n++) deadlines.add(n)
    deadlines.remove(first)
    vi.advanceTimersByTime(100)
    assert.deepStrictEqual(expired, Array.from({ length: 65 }, (_, n) => n))
  })

  it("waits out a timeout longer than a timer can hold", () => {
    const expired: Array<number> = []
    const deadlines = new SendDeadlines<number>(3_000_000_000, (n) => expired.push(n))
    deadlines.add(0)
    vi.advanceTimersByTime(2_000_000_000)
    assert.deepStrictEqual(expired, [])
    assert.strictEqual(vi.getTimerCount(), 1)
    vi.advanceTimersByTime(1_000_000_000)
    assert.deepStrictEqual(expired, [0])
  })

  it("stays at one timer when an expired send is sent again from the timer's callback", () => {
    const deadlines: SendDeadlines<number> = new SendDeadlines<number>(100, (n) => {
      if (n < 5) deadlines.add(n + 1)
    })
    deadlines.add(0)
    deadlines.add(10)
    for (let expired = 0; expired < 5; expired++) {
      vi.advanceTimersByTime(100)
      assert.strictEqual(vi.getTimerCount(), 1)
    }
  })
})

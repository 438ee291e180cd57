/**
 * Paces sends to a rate that may change from one send to the next, letting up to `burst` milliseconds' worth of
 * sends leave together (the generic cell rate algorithm). Each send reserves the next free slot, so senders that must
 * wait wake once, each at its own time, instead of all waking for every slot and all but one going back to sleep.
 */
export interface SendPacing {
  /**
   * Reserves a slot for a send that wants to leave at `now` (epoch ms), at most `perSecond` sends a second: the
   * milliseconds to wait for it, 0 = now.
   */
  readonly reserve: (now: number, perSecond: number) => number
}

export const makeSendPacing = (burst: number): SendPacing => {
  // when the next send would leave if sends were evenly spaced
  let theoretical = Number.NEGATIVE_INFINITY
  return {
    reserve: (now, perSecond) => {
      const interval = 1000 / perSecond
      const next = Math.max(theoretical, now)
      theoretical = next + interval
      return Math.max(0, Math.ceil(next - Math.max(0, burst - interval) - now))
    }
  }
}

/**
 * Paces sends to at most `perSecond`, letting up to `burst` leave together (the generic cell rate algorithm). Each
 * send reserves the next free slot, so senders that must wait wake once, each at its own time, instead of all
 * waking for every slot and all but one going back to sleep.
 */
export interface SendPacing {
  /** Reserves a slot for a send that wants to leave at `now` (epoch ms): the milliseconds to wait for it, 0 = now. */
  readonly reserve: (now: number) => number
}

export const makeSendPacing = (perSecond: number, burst: number): SendPacing => {
  const interval = 1000 / perSecond
  const tolerance = interval * (Math.max(1, burst) - 1)
  // when the next send would leave if sends were evenly spaced
  let theoretical = Number.NEGATIVE_INFINITY
  return {
    reserve: (now) => {
      const next = Math.max(theoretical, now)
      theoretical = next + interval
      return Math.max(0, Math.ceil(next - tolerance - now))
    }
  }
}

/**
 * Send pacing, a token bucket: at most `maxSendRate` sends a second, in bursts of at most a tenth of a second's
 * worth. A backlog released at once (after an outage) would otherwise starve the HTTP path of CPU.
 */
export interface Pacing {
  /** Tokens added per millisecond. */
  readonly perMilli: number
  /** Most tokens the bucket holds. */
  readonly burst: number
}

export interface Pace {
  readonly tokens: number
  /** When `tokens` was last brought up to date, epoch milliseconds. */
  readonly refilledAt: number
}

export const pacing = (maxSendRate: number): Pacing => {
  const perMilli = maxSendRate / 1000
  return { perMilli, burst: Math.max(1, perMilli * 100) }
}

/** A full bucket at `now`. */
export const fullPace = (pacing: Pacing, now: number): Pace => ({ tokens: pacing.burst, refilledAt: now })

/** At `now`: `wait` is 0 when a send may leave (its token taken from `pace`), else the milliseconds until one may. */
export const paceSend = (
  pacing: Pacing,
  pace: Pace,
  now: number
): { readonly wait: number; readonly pace: Pace } => {
  const tokens = Math.min(pacing.burst, pace.tokens + (now - pace.refilledAt) * pacing.perMilli)
  if (tokens >= 1) return { wait: 0, pace: { tokens: tokens - 1, refilledAt: now } }
  return { wait: Math.ceil((1 - tokens) / pacing.perMilli), pace: { tokens, refilledAt: now } }
}

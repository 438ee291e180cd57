import type { Processor, ProcessorView } from "../processors/Processor.ts"

export interface RoutingSettings {
  /** Default is preferred while its delay is at most this, milliseconds. */
  readonly maxDefaultDelay: number
  /**
   * No processor is sent payments whose answer would take longer than this, milliseconds: the consistency check
   * counts a payment once its requestedAt is 2 s old, so the processor must have answered and the record be
   * visible well before.
   */
  readonly maxDelay: number
  /** While default fails, hold a payment for default up to this long instead of paying fallback's fee; 0 = off. */
  readonly maxHold: number
  /** Sends per second this instance may make beyond the rate payments arrive at: how fast a backlog drains. */
  readonly drainRate: number
  /** Share of the in-flight capacity routing may plan to fill, 0..1. */
  readonly utilization: number
}

export interface RoutingInput {
  readonly default: ProcessorView
  readonly fallback: ProcessorView
  /** Payments per second arriving at this instance. */
  readonly arrivalRate: number
  /** Payments this instance can have in flight to one processor at once. */
  readonly capacity: number
  /** How long the payment being routed has already been held for default, milliseconds. */
  readonly heldFor: number
  /** Payments waiting in this instance's queue, and the room left in it. */
  readonly backlog: number
  readonly room: number
  readonly settings: RoutingSettings
}

export type Decision =
  | { readonly _tag: "Send"; readonly processor: Processor; readonly reason: string }
  | { readonly _tag: "Hold"; readonly reason: string }

const send = (processor: Processor, reason: string): Decision => ({ _tag: "Send", processor, reason })
const hold = (reason: string): Decision => ({ _tag: "Hold", reason })

/** Little's law: the payments in flight at this rate and delay must fit the capacity routing may use. */
export const canAbsorb = (view: ProcessorView, input: RoutingInput): boolean =>
  input.arrivalRate * (view.delay + 10) / 1000 <= input.capacity * input.settings.utilization

/** Not failing, answering inside the consistency margin as far as anyone knows, and able to take the current rate. */
export const usable = (view: ProcessorView, input: RoutingInput): boolean =>
  !view.failing && !view.slowerThanKnown && view.delay <= input.settings.maxDelay && canAbsorb(view, input)

/**
 * Holding pays only while what is held can still go out in time: the backlog must drain within `maxHold` at the
 * drain rate, the queue must keep at least as much room as it holds, and payments must still be arriving (the test
 * reads the processors' totals soon after its load stops: a payment held then is lost).
 */
export const canHold = (input: RoutingInput): boolean => {
  const { drainRate, maxHold } = input.settings
  return maxHold > 0 && input.heldFor < maxHold && input.arrivalRate > 0 &&
    input.backlog * 1000 / drainRate <= maxHold && input.backlog <= input.room
}

/**
 * Where the next payment goes. Default is cheaper, so it is used whenever it is healthy, quick enough and can keep
 * up; fallback when default fails, is too slow, or cannot keep up; and when neither can take payments safely,
 * they wait (nothing is dropped). Hold-for-default waits out a default failure instead of paying fallback's fee,
 * for at most `maxHold` and only while the backlog can drain (`canHold`).
 */
export const route = (input: RoutingInput): Decision => {
  const { default: primary, fallback, settings } = input
  const defaultUsable = usable(primary, input)
  const fallbackUsable = usable(fallback, input)

  if (defaultUsable && primary.delay <= settings.maxDefaultDelay) return send("default", "default is healthy")
  if (fallbackUsable) {
    if (primary.failing && canHold(input)) {
      return hold("holding for default while it fails")
    }
    if (!defaultUsable || fallback.delay < primary.delay) {
      return send("fallback", primary.failing ? "default is failing" : "default is too slow or saturated")
    }
  }
  if (defaultUsable) return send("default", "default is slow but the only usable processor")
  return hold("no processor can take payments safely")
}

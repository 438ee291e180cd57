// what setTimeout can wait; it fires a longer delay after 1 ms
const longestTimer = 2 ** 31 - 1

/**
 * The deadlines of sends that all share one timeout, behind one timer. Every send gets the same timeout, so
 * deadlines fall in the order the sends left: the next to expire is always the oldest still pending. Sends wait in a
 * ring, oldest first, and the timer is armed for the oldest one's deadline; a send that settles leaves its slot
 * empty (holding nothing) and the timer skips it when it fires. One `setTimeout` per expiry or per timeout's span,
 * where a timer per send cost a timer object and two timer-list updates for every payment.
 *
 * The timer does not keep the process alive: a pending send's socket does.
 */
export class SendDeadlines<A> {
  private pending: Array<A | undefined> = new Array(64)
  private deadlines = new Float64Array(64)
  private head = 0
  private tail = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private readonly timeout: number
  private readonly expire: (item: A) => void

  constructor(timeout: number, expire: (item: A) => void) {
    this.timeout = timeout
    this.expire = expire
  }

  /** Starts `item`'s timeout; the ticket it returns withdraws it. */
  add(item: A): number {
    if (this.tail - this.head === this.pending.length) this.grow()
    const ticket = this.tail++
    const slot = ticket & (this.pending.length - 1)
    this.pending[slot] = item
    this.deadlines[slot] = performance.now() + this.timeout
    if (this.timer === undefined) this.arm(this.timeout)
    return ticket
  }

  /** Withdraws a timeout that has not expired; nothing happens for one that has. */
  remove(ticket: number): void {
    if (ticket < this.head) return
    const mask = this.pending.length - 1
    this.pending[ticket & mask] = undefined
    while (this.head < this.tail && this.pending[this.head & mask] === undefined) this.head++
  }

  private readonly fire = () => {
    this.timer = undefined
    const now = performance.now()
    // an expired send's fiber may send again, and grow the ring, before this loop goes on
    while (this.head < this.tail) {
      const slot = this.head & (this.pending.length - 1)
      const item = this.pending[slot]
      if (item === undefined) {
        this.head++
        continue
      }
      if (this.deadlines[slot] > now) return this.arm(this.deadlines[slot] - now)
      this.pending[slot] = undefined
      this.head++
      this.expire(item)
    }
  }

  private arm(delay: number) {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(this.fire, Math.min(longestTimer, Math.max(1, Math.ceil(delay))))
    this.timer.unref()
  }

  // the ring doubles, each pending send moving to the slot its ticket names in the larger ring
  private grow() {
    const pending = new Array<A | undefined>(this.pending.length * 2)
    const deadlines = new Float64Array(this.pending.length * 2)
    const [from, to] = [this.pending.length - 1, pending.length - 1]
    for (let ticket = this.head; ticket < this.tail; ticket++) {
      pending[ticket & to] = this.pending[ticket & from]
      deadlines[ticket & to] = this.deadlines[ticket & from]
    }
    this.pending = pending
    this.deadlines = deadlines
  }
}

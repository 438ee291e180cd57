import * as hdr from "hdr-histogram-js"
import type { LatencySummary, SecondSample, Stage, StageLatency } from "./Model.ts"

/** A request the scenario made, as k6 would count it. */
export interface Observation {
  /** Seconds since the scenario started when the answer came (or the request gave up). */
  readonly endedAt: number
  readonly ms: number
  /** HTTP status; 0 when the request timed out or failed before an answer. */
  readonly status: number
  readonly payment: boolean
}

/** k6's `expected_response`: the default expected statuses are 200–399. */
export const isExpected = (status: number) => status >= 200 && status < 400

/** The statuses rinha-final.js counts as a successful payment. */
export const isPaymentSuccess = (status: number) => status === 200 || status === 201 || status === 202 || status === 204

/**
 * k6's Trend percentile: sort, then interpolate linearly between the two samples around pct × (n − 1).
 * The official p99 is this, over every expected response.
 */
export const k6Percentile = (sorted: ReadonlyArray<number>, pct: number): number => {
  if (sorted.length === 0) return 0
  if (sorted.length === 1) return sorted[0]
  const i = pct * (sorted.length - 1)
  const low = sorted[Math.floor(i)]
  const high = sorted[Math.ceil(i)]
  return low + (high - low) * (i - Math.floor(i))
}

/** The middle value, the mean of the two middle ones for an even count: k6's 50th percentile; 0 for none. */
export const median = (values: ReadonlyArray<number>): number => k6Percentile([...values].sort((a, b) => a - b), 0.5)

const newHistogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 })

interface Second {
  requests: number
  payments: number
  failedPayments: number
  latencies: Array<number>
}

/**
 * Keeps every latency of the scenario: HdrHistograms (microsecond resolution) for the summaries, the raw
 * expected latencies for the exact k6 p99 that the score uses, and per-second buckets for the charts.
 */
export class LatencyRecorder {
  readonly #all = newHistogram()
  readonly #payments = newHistogram()
  readonly #expected: Array<number> = []
  /** When each of `#expected` ended, seconds since the start. */
  readonly #expectedAt: Array<number> = []
  readonly #seconds = new Map<number, Second>()
  successfulPayments = 0
  failedPayments = 0

  record(o: Observation): void {
    const second = this.#second(Math.floor(o.endedAt))
    second.requests++
    if (o.payment) {
      second.payments++
      if (isPaymentSuccess(o.status)) {
        this.successfulPayments++
      } else {
        this.failedPayments++
        second.failedPayments++
      }
    }
    if (!isExpected(o.status)) return
    const micros = Math.max(1, Math.round(o.ms * 1000))
    this.#all.recordValue(micros)
    this.#expected.push(o.ms)
    this.#expectedAt.push(o.endedAt)
    if (o.payment) {
      this.#payments.recordValue(micros)
      second.latencies.push(o.ms)
    }
  }

  /** The official p99: k6's interpolated percentile over every expected response, unrounded, milliseconds. */
  officialP99(): number {
    return k6Percentile([...this.#expected].sort((a, b) => a - b), 0.99)
  }

  /**
   * The expected requests by the stage they ended in: the first stage also takes those before it starts, the last
   * those after the scenario. `threshold` is the run's p99: what is slower makes up the 1 % the bonus is decided by.
   */
  byStage(stages: ReadonlyArray<Stage>, threshold: number): ReadonlyArray<StageLatency> {
    const latencies = stages.map((): Array<number> => [])
    this.#expected.forEach((ms, i) => {
      const endedAt = this.#expectedAt[i]
      let stage = stages.length - 1
      while (stage > 0 && stages[stage].at > endedAt) stage--
      latencies[stage]?.push(ms)
    })
    return stages.map((stage, i) => {
      const sorted = latencies[i].sort((a, b) => a - b)
      return {
        ...stage,
        requests: sorted.length,
        p99: sorted.length === 0 ? null : k6Percentile(sorted, 0.99),
        slowest: sorted.filter((ms) => ms > threshold).length
      }
    })
  }

  summary(which: "all" | "payments"): LatencySummary {
    const h = which === "all" ? this.#all : this.#payments
    const ms = (pct: number) => h.totalCount === 0 ? 0 : h.getValueAtPercentile(pct) / 1000
    return {
      count: h.totalCount,
      p50: ms(50),
      p90: ms(90),
      p99: ms(99),
      p999: ms(99.9),
      max: h.totalCount === 0 ? 0 : h.maxValue / 1000
    }
  }

  seconds(vusAt: (t: number) => number): ReadonlyArray<SecondSample> {
    const last = Math.max(-1, ...this.#seconds.keys())
    const out: Array<SecondSample> = []
    for (let t = 0; t <= last; t++) {
      const s = this.#seconds.get(t)
      const sorted = s === undefined ? [] : [...s.latencies].sort((a, b) => a - b)
      out.push({
        t,
        vus: vusAt(t),
        requests: s?.requests ?? 0,
        payments: s?.payments ?? 0,
        failedPayments: s?.failedPayments ?? 0,
        paymentP50: sorted.length === 0 ? null : k6Percentile(sorted, 0.5),
        paymentP99: sorted.length === 0 ? null : k6Percentile(sorted, 0.99)
      })
    }
    return out
  }

  #second(t: number): Second {
    let s = this.#seconds.get(t)
    if (s === undefined) {
      s = { requests: 0, payments: 0, failedPayments: 0, latencies: [] }
      this.#seconds.set(t, s)
    }
    return s
  }
}

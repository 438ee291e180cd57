/**
 * The arena's data: what a run is configured with (a profile), what it observes over time, and what it reports.
 * Times are seconds since the scenario started unless a name says otherwise; latencies are milliseconds.
 */

export type ProcessorName = "default" | "fallback"

export interface ProcessorCondition {
  readonly delay: number
  readonly failure: boolean
}

/** From `at` seconds on, until the next stage, the processors behave as given. */
export interface Stage {
  readonly at: number
  readonly default: ProcessorCondition
  readonly fallback: ProcessorCondition
}

export interface Profile {
  readonly name: string
  /** Length of the payments scenario, seconds. */
  readonly duration: number
  /** Virtual users at the end of the linear ramp from 1. */
  readonly maxVus: number
  readonly amount: number
  readonly fees: { readonly default: number; readonly fallback: number }
  readonly stages: ReadonlyArray<Stage>
  readonly check: {
    /** Seconds between the end of one consistency check and the start of the next. */
    readonly interval: number
    /** The check window is [now − windowStart, now − windowEnd]. */
    readonly windowStart: number
    readonly windowEnd: number
    /** final: |Δdefault| + |Δfallback|; preview: |Δdefault + Δfallback|. */
    readonly formula: "sumOfAbs" | "absOfSum"
  }
  readonly teardown: {
    /** final: the processors' admin summaries; preview: the backend's own summary at the processors' fees. */
    readonly source: "processors" | "backend"
    /** Seconds before teardown covered by the final reading. */
    readonly window: number
  }
  /** Client timeout of every scenario request, milliseconds. */
  readonly requestTimeout: number
}

export interface ProcessorTotals {
  readonly totalRequests: number
  readonly totalAmount: number
}

export interface ProcessorAdminSummary extends ProcessorTotals {
  readonly totalFee: number
  readonly feePerTransaction: number
}

/** What the scorer needs, as the official script gathers it. */
export interface ScoreInput {
  readonly profile: Pick<Profile, "name" | "maxVus">
  /** Totals per processor at teardown, and the fee rate each charges. */
  readonly totals: { readonly [P in ProcessorName]: ProcessorTotals & { readonly feePerTransaction: number } }
  /** k6's p(99) of http_req_duration{expected_response:true}, milliseconds, unrounded. */
  readonly p99: number
  /** The payments_inconsistency counter at the end. */
  readonly inconsistencies: number
  /** transactions_success / transactions_failure: POST /payments answered 200/201/202/204, or not. */
  readonly successfulPayments: number
  readonly failedPayments: number
  readonly participant: string
  readonly timestamp: Date
}

export interface ProcessorScore {
  readonly payments: number
  readonly gross: number
  readonly fees: number
}

export interface Scorecard {
  /** total_liquido: partial × (1 + bonus − fine), rounded to cents as the ranking shows it (the JSON keeps every digit). */
  readonly score: number
  readonly gross: number
  readonly fees: number
  /** gross − fees. */
  readonly net: number
  /** p99 rounded to 2 decimals, milliseconds. */
  readonly p99: number
  /** Fraction, e.g. 0.17. */
  readonly bonus: number
  /** 0 or 0.35. */
  readonly fine: number
  readonly fineAmount: number
  readonly inconsistencies: number
  /** Successful POSTs minus the payments the processors hold. */
  readonly lag: number
  /** lag < 0: the processors hold payments the backend never acknowledged. */
  readonly slushFund: boolean
  readonly successfulPayments: number
  readonly failedPayments: number
  readonly default: ProcessorScore
  readonly fallback: ProcessorScore
}

/** One second of the scenario, as the load generator saw it. */
export interface SecondSample {
  readonly t: number
  readonly vus: number
  /** Every request the scenario made that ended in this second (payments, checks, stage changes). */
  readonly requests: number
  readonly payments: number
  readonly failedPayments: number
  /** Percentiles of the payments that ended in this second; null when there were none. */
  readonly paymentP50: number | null
  readonly paymentP99: number | null
}

/** What one service instance's /metrics said at time t. */
export interface InstanceSample {
  readonly t: number
  readonly instance: string
  readonly queueLength: number
  readonly inFlight: number
  readonly recordedDefault: number
  readonly recordedFallback: number
  /** Garbage collections since the instance started (`nodejs_gc_duration_seconds`): how many, and their pauses' sum. */
  readonly gc?: { readonly minor: GcPauses; readonly major: GcPauses }
}

export interface GcPauses {
  readonly count: number
  readonly seconds: number
}

export interface GeneratorGcPauses extends GcPauses {
  readonly longestMs: number
}

/** The load generator's own collections over the scenario, minor (scavenges) and major (every other kind). */
export interface GeneratorGc {
  readonly minor: GeneratorGcPauses
  readonly major: GeneratorGcPauses
}

/** Resource use of one process the arena started, at time t. */
export interface ProcessSample {
  readonly t: number
  readonly process: string
  readonly rssMiB: number
  /** The anonymous part of the RSS; the rest is file pages (the node binary's code, mostly), shared and reclaimable. */
  readonly anonMiB?: number
  /** Share of one core used since the previous sample, percent. */
  readonly cpuPercent: number
}

/** Counters of a cgroup's CFS quota (`cpu.stat`). */
export interface CpuThrottling {
  /** Periods (100 ms each) in which the group had a thread ready to run. */
  readonly periods: number
  /** Periods in which it used up its quota and its threads were stopped until the next period. */
  readonly throttledPeriods: number
  /** How long its threads were stopped, added up over the CPUs they were queued on, milliseconds. */
  readonly throttledMs: number
}

/** A second in which the CFS quota stopped a limited service (its cgroup's `cpu.stat`), at time t. */
export interface ThrottleSample {
  readonly t: number
  readonly service: string
  /** Periods of 100 ms in which the service used up its quota since the previous reading. */
  readonly throttledPeriods: number
  /** How long its threads were stopped, added up over the CPUs they were queued on, ms. */
  readonly throttledMs: number
}

export interface CheckResult {
  readonly t: number
  readonly from: string
  readonly to: string
  readonly backend: ProcessorTotalsPair
  readonly processors: ProcessorTotalsPair
  readonly inconsistencies: number
}

export interface ProcessorTotalsPair {
  readonly default: number
  readonly fallback: number
}

export interface LatencySummary {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}

/** The expected requests that ended while a stage lasted (the first stage from 0 s, the last to the end). */
export interface StageLatency extends Stage {
  readonly requests: number
  /** k6's p99 of those requests; null when none ended in the stage. */
  readonly p99: number | null
  /** How many of them were slower than the run's p99: where the 1 % that decides the bonus came from. */
  readonly slowest: number
}

export interface ArenaReport {
  readonly meta: {
    readonly profile: string
    readonly startedAt: string
    readonly durationSeconds: number
    readonly instances: number
    /** "service", "null" or the script a custom backend ran. */
    readonly backend: string
    readonly loadBalancer: "nginx" | "none"
    readonly database: string
    /** How resources were limited, or why they were not. */
    readonly limits: string
    /** Per limited service: its memory limit, the peak the kernel charged it, and how often it was OOM-killed. */
    readonly cgroups?: ReadonlyArray<{
      readonly service: string
      readonly limitMiB: number
      readonly peakMiB: number | undefined
      readonly oomKills: number
      /** The CFS quota's counters over the scenario. */
      readonly cpu?: CpuThrottling
    }>
    /** Health endpoint calls the instances made during the run, per processor (from their /metrics). */
    readonly healthCalls?: { readonly default: number; readonly fallback: number; readonly minutes: number }
    /** The load generator's own collections during the scenario: the answers it times through them arrive late. */
    readonly generatorGc?: GeneratorGc
  }
  readonly scorecard: Scorecard
  /** The official final-results.json fields. */
  readonly official: Record<string, unknown>
  readonly latency: {
    /** Every expected (2xx/3xx) request of the scenario: what the official p99 is computed over. */
    readonly all: LatencySummary
    readonly payments: LatencySummary
    /** Every expected request again, by the stage it ended in. */
    readonly stages: ReadonlyArray<StageLatency>
  }
  /** The latency floor of the same machine, load generator and load balancer, from a --null-backend run. */
  readonly nullFloor?: LatencySummary
  readonly series: {
    readonly seconds: ReadonlyArray<SecondSample>
    readonly instances: ReadonlyArray<InstanceSample>
    readonly processes: ReadonlyArray<ProcessSample>
    /** Seconds in which a limited service was throttled; absent from runs without --limits. */
    readonly throttling?: ReadonlyArray<ThrottleSample>
    readonly stages: ReadonlyArray<Stage>
    readonly checks: ReadonlyArray<CheckResult>
  }
}

import { Context, Duration, Effect, Layer, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { collectDefaultMetrics, Registry } from "prom-client"
import { AppConfig } from "../config/AppConfig.ts"

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export interface Histogram {
  readonly observe: (value: number) => void
}

export interface Counter {
  readonly inc: (by?: number) => void
}

export interface Gauge {
  readonly set: (value: number) => void
  readonly inc: () => void
  readonly dec: () => void
}

type Attributes = Readonly<Record<string, string>>

export type Labels<L extends string> = { readonly [K in L]: string | number }

/**
 * A metric with labels: one series per label set, made (and exposed, at 0) by the first `labels` call for it and kept;
 * the owner of a series that should show before anything is recorded asks for it at start.
 */
export interface Family<L extends string, S> {
  readonly labels: (labels: Labels<L>) => S
}

/**
 * A gauge its owner sets from its own state when /metrics is scraped, instead of on every change: the owner
 * installs the reading with `readFrom` (until then the gauge reads 0).
 */
export interface SampledGauge<G> {
  readonly readFrom: (read: (gauge: G) => void) => void
}

/**
 * A family's series by label value, one level per label: finding one builds no key. A value's spellings (`200` and
 * `"200"`) lead to one node, as they name one series: each is kept as it was asked for, so finding it again converts
 * nothing.
 */
class LabelTree<S> {
  series: S | undefined
  private readonly children = new Map<string | number, LabelTree<S>>()

  child(value: string | number): LabelTree<S> {
    let child = this.children.get(value)
    if (child === undefined) {
      const named = String(value)
      child = this.children.get(named) ?? new LabelTree<S>()
      this.children.set(named, child)
      this.children.set(value, child)
    }
    return child
  }
}

/**
 * The service's metrics are Effect metrics, kept in a registry of this instance's own so that two instances in one
 * process (the tests) count apart. A label set's series is found by one map lookup per label, and recording goes
 * through the series' own hooks (a bucket search for a histogram): prom-client built, validated and hashed a label
 * object on every observation (3.3 % of the busy time at 300 payments/s). prom-client still supplies Node's runtime
 * metrics (CPU, memory, GC, event loop lag), which Effect does not collect; `/metrics` serves both.
 * `runtime`: include Node's metrics, the event loop lag sampled every given interval.
 */
const make = (runtime?: { readonly eventLoopSampleInterval: Duration.Duration }) => {
  const runtimeRegistry = new Registry()
  if (runtime !== undefined) {
    collectDefaultMetrics({
      register: runtimeRegistry,
      // prom-client's default, 10 ms, wakes the loop 100 times a second: an idle instance spent 3.3 ms of CPU a second more
      eventLoopMonitoringPrecision: Math.max(1, Math.round(Duration.toMillis(runtime.eventLoopSampleInterval)))
    })
  }
  const registry: Metric.MetricRegistry = new Map()
  const context = Context.make(Metric.MetricRegistry, registry)
  const samplers: Array<() => void> = []

  /**
   * Registers the series at once, so that it is exposed (at 0) before anything is recorded, and gives back its hooks:
   * recording through them skips the registry lookup (the series' key, then a map search) that `updateUnsafe` makes
   * on every update, more than half of what recording cost per payment.
   */
  const exposed = <I, S>(metric: Metric.Metric<I, S>): Metric.Metric.Hooks<I, S> => {
    const before = registry.size
    metric.valueUnsafe(context)
    // a new series is the registry's last entry (a Map keeps insertion order)
    const series = registry.size === before ? undefined : [...registry.values()].at(-1)
    if (series === undefined) throw new Error(`metric series ${metric.id} registered twice`)
    return series.hooks
  }
  const histogram = (
    name: string,
    description: string,
    attributes: Attributes = {},
    boundaries: ReadonlyArray<number> = latencyBuckets
  ): Histogram => {
    const hooks = exposed(Metric.histogram(name, { description, attributes, boundaries }))
    return { observe: (value) => hooks.update(value, context) }
  }
  const counter = (name: string, description: string, attributes: Attributes = {}): Counter => {
    const hooks = exposed(Metric.counter(name, { description, attributes, incremental: true }))
    return { inc: (by = 1) => hooks.update(by, context) }
  }
  const gauge = (name: string, description: string, attributes: Attributes = {}): Gauge => {
    const hooks = exposed(Metric.gauge(name, { description, attributes }))
    return {
      set: (value) => hooks.update(value, context),
      inc: () => hooks.modify(1, context),
      dec: () => hooks.modify(-1, context)
    }
  }
  const family = <L extends string, S>(
    labelNames: ReadonlyArray<L>,
    create: (attributes: Attributes) => S
  ): Family<L, S> => {
    const root = new LabelTree<S>()
    const labels = (labels: Labels<L>) => {
      let node = root
      for (const name of labelNames) node = node.child(labels[name])
      return node.series ??= create(Object.fromEntries(labelNames.map((name) => [name, String(labels[name])])))
    }
    return { labels }
  }
  const sampledGauge = <G>(gauge: G): SampledGauge<G> => {
    let read = (_gauge: G) => {}
    samplers.push(() => read(gauge))
    return { readFrom: (reader) => void (read = reader) }
  }

  return {
    /** The Prometheus text exposition: Node's runtime metrics, then the service's, the sampled gauges read now. */
    exposition: Effect.map(Effect.promise(() => runtimeRegistry.metrics()), (runtimeText) => {
      for (const sample of samplers) sample()
      const own = PrometheusMetrics.formatUnsafe(context)
      return runtimeText.trim() === "" ? own : `${runtimeText.trimEnd()}\n${own}`
    }),
    contentType: runtimeRegistry.contentType,
    /** Each label set's `http_requests_total` is its duration histogram's count, read when scraped. */
    httpDuration: family(["method", "route", "status"], (attributes): Histogram => {
      const duration = exposed(Metric.histogram("http_request_duration_seconds", {
        description: "Time to answer an HTTP request, by method, route and status",
        attributes,
        boundaries: latencyBuckets
      }))
      Metric.registerUnsafe(
        Metric.counter("http_requests_total", {
          description: "HTTP requests answered, by method, route and status",
          attributes
        }),
        context,
        {
          get: (context) => ({ count: duration.get(context).count, incremental: true }),
          update: () => {},
          modify: () => {}
        }
      )
      return { observe: (value) => duration.update(value, context) }
    }),
    queueLength: sampledGauge(gauge("payment_queue_length", "Payments waiting in the queue")),
    inFlight: sampledGauge(gauge("payment_jobs_in_flight", "Payments taken by a worker, not yet done")),
    enqueued: counter("payments_enqueued_total", "Payments accepted into the queue"),
    rejected: family(
      ["reason"],
      (attributes) =>
        counter("payments_rejected_total", "Payments not enqueued, by reason (queue_full, duplicate)", attributes)
    ),
    queueWait: histogram("payment_queue_wait_seconds", "Time a payment waited in the queue before a worker took it"),
    jobDuration: family(
      ["processor"],
      (attributes) =>
        histogram(
          "payment_job_duration_seconds",
          "Time from a worker taking a payment to the payment being recorded, by processor",
          attributes
        )
    ),
    processorLatency: family(
      ["processor", "outcome"],
      (attributes) =>
        histogram(
          "processor_request_duration_seconds",
          "Payment processor call latency, by processor and outcome",
          attributes
        )
    ),
    recorded: family(
      ["processor"],
      (attributes) => counter("payments_recorded_total", "Payments recorded in the database, by processor", attributes)
    ),
    routingDecisions: family(
      ["decision"],
      (attributes) =>
        counter(
          "routing_decisions_total",
          "Where payments were routed: default, fallback, or hold (waiting for a usable processor)",
          attributes
        )
    ),
    healthCalls: family(
      ["processor", "outcome"],
      (attributes) =>
        counter(
          "processor_health_calls_total",
          "Health endpoint calls this instance made as the elected poller, by processor and outcome",
          attributes
        )
    ),
    healthPoller: gauge("processor_health_poller", "1 while this instance holds the health poller lease"),
    processorFailing: family(
      ["processor"],
      (attributes) =>
        gauge(
          "processor_failing",
          "1 while this instance considers the processor failing (its health, or a recent refusal)",
          attributes
        )
    ),
    processorDelay: family(
      ["processor"],
      (attributes) =>
        gauge(
          "processor_delay_estimate_seconds",
          "This instance's estimate of the processor's answer time (its health, raised by observed latency)",
          attributes
        )
    ),
    recordedAmount: family(
      ["processor"],
      (attributes) =>
        counter(
          "payments_recorded_amount_total",
          "Money recorded in the database, by processor (the payments' amounts, before fees)",
          attributes
        )
    ),
    processorInFlight: sampledGauge(
      family(
        ["processor"],
        (attributes) =>
          gauge(
            "processor_requests_in_flight",
            "Payment requests sent to the processor and not answered yet, by processor",
            attributes
          )
      )
    ),
    dbQueryDuration: family(
      ["query", "outcome"],
      (attributes) =>
        histogram(
          "db_query_duration_seconds",
          "SQL statement time, waiting for a pooled connection included, by statement and outcome",
          attributes
        )
    ),
    dbInFlight: gauge("db_queries_in_flight", "SQL statements running or waiting for a pooled connection"),
    dbPoolMax: gauge("db_pool_max_connections", "The size of this instance's database connection pool"),
    recordBatchSize: histogram(
      "payment_record_batch_size",
      "Rows written per batched insert",
      {},
      [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000]
    )
  }
}

export class Metrics extends Context.Service<Metrics, ReturnType<typeof make>>()("app/observability/Metrics") {
  static readonly layer: Layer.Layer<Metrics, never, AppConfig> = Layer.effect(
    Metrics,
    Effect.map(
      Effect.service(AppConfig),
      (config) => make({ eventLoopSampleInterval: config.eventLoopSampleInterval })
    )
  )

  static readonly layerTest: Layer.Layer<Metrics> = Layer.sync(Metrics, () => make())
}

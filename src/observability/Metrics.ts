import { Context, Duration, Effect, Layer } from "effect"
import { collectDefaultMetrics, Counter, Gauge, type GaugeConfiguration, Histogram, Registry } from "prom-client"
import { AppConfig } from "../config/AppConfig.ts"

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * A gauge its owner sets from its own state when /metrics is scraped, instead of on every change: the owner
 * installs the reading with `readFrom` (until then the gauge reads 0).
 */
export interface SampledGauge<T extends string = never> {
  readonly gauge: Gauge<T>
  readonly readFrom: (read: (gauge: Gauge<T>) => void) => void
}

const sampledGauge = <T extends string = never>(config: GaugeConfiguration<T>): SampledGauge<T> => {
  let read = (_gauge: Gauge<T>) => {}
  const gauge = new Gauge<T>({
    ...config,
    collect() {
      read(this)
    }
  })
  return { gauge, readFrom: (reader) => void (read = reader) }
}

/** `runtime`: Node's own metrics too (CPU, memory, GC, event loop lag), the lag sampled every given interval. */
const make = (runtime?: { readonly eventLoopSampleInterval: Duration.Duration }) => {
  const registry = new Registry()
  const registers = [registry]
  if (runtime !== undefined) {
    collectDefaultMetrics({
      register: registry,
      // prom-client's default, 10 ms, wakes the loop 100 times a second: an idle instance spent 3.3 ms of CPU a second more
      eventLoopMonitoringPrecision: Math.max(1, Math.round(Duration.toMillis(runtime.eventLoopSampleInterval)))
    })
  }
  const httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time to answer an HTTP request, by method, route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: latencyBuckets,
    registers
  })
  const httpDurationCount = "http_request_duration_seconds_count"
  return {
    registry,
    /** The duration histogram's count, copied when scraped: every answered request is observed there already. */
    httpRequests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests answered, by method, route and status",
      labelNames: ["method", "route", "status"] as const,
      registers,
      async collect() {
        const { values } = await httpDuration.get()
        this.reset()
        for (const { labels, metricName, value } of values) {
          if (metricName === httpDurationCount) this.inc(labels, value)
        }
      }
    }),
    httpDuration,
    queueLength: sampledGauge({ name: "payment_queue_length", help: "Payments waiting in the queue", registers }),
    inFlight: sampledGauge({
      name: "payment_jobs_in_flight",
      help: "Payments taken by a worker, not yet done",
      registers
    }),
    enqueued: new Counter({ name: "payments_enqueued_total", help: "Payments accepted into the queue", registers }),
    rejected: new Counter({
      name: "payments_rejected_total",
      help: "Payments not enqueued, by reason (queue_full, duplicate)",
      labelNames: ["reason"] as const,
      registers
    }),
    queueWait: new Histogram({
      name: "payment_queue_wait_seconds",
      help: "Time a payment waited in the queue before a worker took it",
      buckets: latencyBuckets,
      registers
    }),
    jobDuration: new Histogram({
      name: "payment_job_duration_seconds",
      help: "Time from a worker taking a payment to the payment being recorded, by processor",
      labelNames: ["processor"] as const,
      buckets: latencyBuckets,
      registers
    }),
    processorLatency: new Histogram({
      name: "processor_request_duration_seconds",
      help: "Payment processor call latency, by processor and outcome",
      labelNames: ["processor", "outcome"] as const,
      buckets: latencyBuckets,
      registers
    }),
    recorded: new Counter({
      name: "payments_recorded_total",
      help: "Payments recorded in the database, by processor",
      labelNames: ["processor"] as const,
      registers
    }),
    routingDecisions: new Counter({
      name: "routing_decisions_total",
      help: "Where payments were routed: default, fallback, or hold (waiting for a usable processor)",
      labelNames: ["decision"] as const,
      registers
    }),
    healthCalls: new Counter({
      name: "processor_health_calls_total",
      help: "Health endpoint calls this instance made as the elected poller, by processor and outcome",
      labelNames: ["processor", "outcome"] as const,
      registers
    }),
    healthPoller: new Gauge({
      name: "processor_health_poller",
      help: "1 while this instance holds the health poller lease",
      registers
    }),
    processorFailing: new Gauge({
      name: "processor_failing",
      help: "1 while this instance considers the processor failing (its health, or a recent refusal)",
      labelNames: ["processor"] as const,
      registers
    }),
    processorDelay: new Gauge({
      name: "processor_delay_estimate_seconds",
      help: "This instance's estimate of the processor's answer time (its health, raised by observed latency)",
      labelNames: ["processor"] as const,
      registers
    }),
    recordedAmount: new Counter({
      name: "payments_recorded_amount_total",
      help: "Money recorded in the database, by processor (the payments' amounts, before fees)",
      labelNames: ["processor"] as const,
      registers
    }),
    processorInFlight: sampledGauge({
      name: "processor_requests_in_flight",
      help: "Payment requests sent to the processor and not answered yet, by processor",
      labelNames: ["processor"] as const,
      registers
    }),
    dbQueryDuration: new Histogram({
      name: "db_query_duration_seconds",
      help: "SQL statement time, waiting for a pooled connection included, by statement and outcome",
      labelNames: ["query", "outcome"] as const,
      buckets: latencyBuckets,
      registers
    }),
    dbInFlight: new Gauge({
      name: "db_queries_in_flight",
      help: "SQL statements running or waiting for a pooled connection",
      registers
    }),
    dbPoolMax: new Gauge({
      name: "db_pool_max_connections",
      help: "The size of this instance's database connection pool",
      registers
    }),
    recordBatchSize: new Histogram({
      name: "payment_record_batch_size",
      help: "Rows written per batched insert",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers
    })
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

import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { samples } from "../support/metrics.ts"

const scrape = Effect.flatMap(Effect.service(Metrics), (metrics) => metrics.exposition)

const value = (exposition: string, name: string, labels: Record<string, string> = {}) => {
  const found = samples(exposition, name).filter((sample) =>
    Object.keys(sample.labels).length === Object.keys(labels).length
    && Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
  )
  assert.lengthOf(found, 1, `one ${name} ${JSON.stringify(labels)}`)
  return found[0].value
}

describe("Metrics", () => {
  it.effect("a label set's series is found again by the same labels, and kept apart from the others", () =>
    Effect.gen(function*() {
      const metrics = yield* Metrics
      metrics.processorLatency.labels({ processor: "default", outcome: "200" }).observe(0.003)
      metrics.processorLatency.labels({ processor: "default", outcome: "200" }).observe(0.02)
      metrics.processorLatency.labels({ processor: "default", outcome: "500" }).observe(2)
      metrics.processorLatency.labels({ processor: "fallback", outcome: "200" }).observe(0.0004)
      const text = yield* scrape
      const name = "processor_request_duration_seconds"
      const ok = { processor: "default", outcome: "200" }
      assert.strictEqual(value(text, `${name}_count`, ok), 2)
      assert.strictEqual(value(text, `${name}_bucket`, { ...ok, le: "0.0025" }), 0)
      assert.strictEqual(value(text, `${name}_bucket`, { ...ok, le: "0.005" }), 1)
      assert.strictEqual(value(text, `${name}_bucket`, { ...ok, le: "0.025" }), 2)
      assert.strictEqual(value(text, `${name}_bucket`, { ...ok, le: "+Inf" }), 2)
      assert.closeTo(value(text, `${name}_sum`, ok), 0.023, 1e-9)
      assert.strictEqual(value(text, `${name}_count`, { processor: "default", outcome: "500" }), 1)
      assert.strictEqual(value(text, `${name}_bucket`, { processor: "default", outcome: "500", le: "1" }), 0)
      assert.strictEqual(value(text, `${name}_bucket`, { processor: "fallback", outcome: "200", le: "0.0005" }), 1)
      assert.include(text, `# TYPE ${name} histogram`)
    }).pipe(Effect.provide(Metrics.layerTest)))

  it.effect("a label's value spelled as a number or as its string counts into one series", () =>
    Effect.gen(function*() {
      const metrics = yield* Metrics
      metrics.httpDuration.labels({ method: "POST", route: "/payments", status: 202 }).observe(0.001)
      metrics.httpDuration.labels({ method: "POST", route: "/payments", status: "202" }).observe(0.002)
      metrics.httpDuration.labels({ method: "POST", route: "/payments", status: 202 }).observe(0.003)
      const text = yield* scrape
      const labels = { method: "POST", route: "/payments", status: "202" }
      assert.strictEqual(value(text, "http_request_duration_seconds_count", labels), 3)
      assert.strictEqual(value(text, "http_requests_total", labels), 3)
    }).pipe(Effect.provide(Metrics.layerTest)))

  it.effect("a series is exposed at 0 before anything is recorded: at once unlabelled, once asked for labelled", () =>
    Effect.gen(function*() {
      const metrics = yield* Metrics
      const before = yield* scrape
      assert.strictEqual(value(before, "payments_enqueued_total"), 0)
      assert.strictEqual(value(before, "payment_queue_length"), 0)
      assert.strictEqual(value(before, "payment_queue_wait_seconds_count"), 0)
      assert.lengthOf(samples(before, "payments_recorded_total"), 0)
      metrics.recorded.labels({ processor: "default" })
      metrics.jobDuration.labels({ processor: "fallback" })
      const after = yield* scrape
      assert.strictEqual(value(after, "payments_recorded_total", { processor: "default" }), 0)
      assert.strictEqual(value(after, "payment_job_duration_seconds_count", { processor: "fallback" }), 0)
      assert.include(after, "# TYPE payments_recorded_total counter")
    }).pipe(Effect.provide(Metrics.layerTest)))

  it.effect("counts, gauge moves and sampled gauges read at the scrape", () =>
    Effect.gen(function*() {
      const metrics = yield* Metrics
      metrics.enqueued.inc()
      metrics.recorded.labels({ processor: "fallback" }).inc(3)
      metrics.dbInFlight.inc()
      metrics.dbInFlight.inc()
      metrics.dbInFlight.dec()
      let waiting = 7
      metrics.queueLength.readFrom((gauge) => gauge.set(waiting))
      metrics.processorInFlight.readFrom((family) => family.labels({ processor: "default" }).set(waiting * 2))
      const first = yield* scrape
      waiting = 2
      const second = yield* scrape
      assert.strictEqual(value(first, "payments_enqueued_total"), 1)
      assert.strictEqual(value(first, "payments_recorded_total", { processor: "fallback" }), 3)
      assert.strictEqual(value(first, "db_queries_in_flight"), 1)
      assert.strictEqual(value(first, "payment_queue_length"), 7)
      assert.strictEqual(value(second, "payment_queue_length"), 2)
      assert.strictEqual(value(second, "processor_requests_in_flight", { processor: "default" }), 4)
    }).pipe(Effect.provide(Metrics.layerTest)))

  it.effect("http_requests_total is each label set's duration count", () =>
    Effect.gen(function*() {
      const metrics = yield* Metrics
      const accepted = { method: "POST", route: "/payments", status: 202 }
      metrics.httpDuration.labels(accepted).observe(0.001)
      metrics.httpDuration.labels(accepted).observe(0.001)
      metrics.httpDuration.labels({ ...accepted, status: 400 }).observe(0.001)
      const text = yield* scrape
      const labels = { method: "POST", route: "/payments", status: "202" }
      assert.strictEqual(value(text, "http_requests_total", labels), 2)
      assert.strictEqual(value(text, "http_request_duration_seconds_count", labels), 2)
      assert.strictEqual(value(text, "http_requests_total", { ...labels, status: "400" }), 1)
      assert.include(text, "# TYPE http_requests_total counter")
    }).pipe(Effect.provide(Metrics.layerTest)))

  it.effect("two instances in one process count apart", () =>
    Effect.gen(function*() {
      const counted = yield* Effect.provide(
        Effect.gen(function*() {
          ;(yield* Metrics).enqueued.inc()
          return yield* scrape
        }),
        Metrics.layerTest
      )
      const other = yield* Effect.provide(scrape, Metrics.layerTest)
      assert.strictEqual(value(counted, "payments_enqueued_total"), 1)
      assert.strictEqual(value(other, "payments_enqueued_total"), 0)
    }))

  it.effect("with Node's runtime metrics, /metrics serves them beside the service's", () =>
    Effect.gen(function*() {
      const text = yield* scrape
      assert.isAbove(value(text, "nodejs_heap_size_total_bytes"), 0)
      assert.strictEqual(value(text, "payments_enqueued_total"), 0)
      assert.isAbove(samples(text, "process_cpu_seconds_total").length, 0)
    }).pipe(Effect.provide(Metrics.layer.pipe(Layer.provide(AppConfig.layerTest())))))
})

import { assert, describe, it } from "@effect/vitest"
import { metricValue, parseExposition, sumOf } from "../../../tools/metrics/Exposition.ts"

const text = [
  "# HELP nodejs_gc_duration_seconds Garbage collection duration by kind",
  "# TYPE nodejs_gc_duration_seconds histogram",
  "nodejs_gc_duration_seconds_count{kind=\"minor\"} 1074",
  "nodejs_gc_duration_seconds_count{kind=\"major\"} 21",
  "nodejs_gc_duration_seconds_sum{kind=\"minor\"} 1.9",
  "payment_queue_length 3",
  "payment_queue_length_max 99",
  "processor_health_calls_total{processor=\"default\",outcome=\"ok\"} 50",
  "processor_health_calls_total{processor=\"default\",outcome=\"timeout\"} 2",
  "processor_health_calls_total{processor=\"fallback\",outcome=\"ok\"} 49",
  "not a sample line",
  ""
].join("\n")

describe("parseExposition", () => {
  it("reads each sample line once, with its labels, and leaves out comments and other lines", () => {
    const samples = parseExposition(text)
    assert.strictEqual(samples.length, 8)
    assert.deepStrictEqual(samples[0], {
      name: "nodejs_gc_duration_seconds_count",
      labels: { kind: "minor" },
      value: 1074
    })
    assert.deepStrictEqual(samples[3], { name: "payment_queue_length", labels: {}, value: 3 })
  })
})

describe("sumOf", () => {
  const samples = parseExposition(text)

  it("matches the whole name, not a prefix of a longer one", () => {
    assert.strictEqual(sumOf(samples, "payment_queue_length"), 3)
  })

  it("adds the samples whose labels include the ones asked for", () => {
    assert.strictEqual(sumOf(samples, "processor_health_calls_total", { processor: "default" }), 52)
    assert.strictEqual(sumOf(samples, "processor_health_calls_total"), 101)
    assert.strictEqual(sumOf(samples, "nodejs_gc_duration_seconds_count", { kind: "major" }), 21)
  })

  it("is 0 for a series that is not there", () => {
    assert.strictEqual(sumOf(samples, "payments_recorded_total", { processor: "default" }), 0)
    assert.strictEqual(metricValue("", "payment_queue_length"), 0)
  })
})

describe("metricValue", () => {
  it("is sumOf over the text parsed once", () => {
    assert.strictEqual(metricValue(text, "processor_health_calls_total", { outcome: "ok" }), 99)
  })
})

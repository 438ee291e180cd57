import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { DrainRate } from "../../src/payments/DrainRate.ts"
import { PaymentForwarder } from "../../src/payments/PaymentForwarder.ts"
import { PaymentIntake } from "../../src/payments/PaymentIntake.ts"
import { PaymentQueue } from "../../src/payments/PaymentQueue.ts"
import type { Processor } from "../../src/processors/Processor.ts"
import {
  ProcessorAmbiguous,
  ProcessorGateway,
  type ProcessorPayment,
  ProcessorUnavailable,
  type SendOutcome,
  type StoredPayment
} from "../../src/processors/ProcessorGateway.ts"
import { ProcessorHealth } from "../../src/processors/ProcessorHealth.ts"
import { stub } from "../support/stub.ts"

type Reply = SendOutcome | "unavailable" | "ambiguous"

interface Call {
  readonly kind: "send" | "lookup"
  readonly processor: Processor
  readonly correlationId: string
  readonly requestedAt?: Date
}

/** A gateway that answers from a script, in order, and remembers every call; running out of script is a failure. */
const scriptedGateway = (script: {
  readonly send: Array<readonly [Processor, Reply]>
  readonly lookup?: Array<readonly [Processor, Option.Option<StoredPayment>]>
}) => {
  const calls: Array<Call> = []
  const layer = stub(ProcessorGateway, {
    send: (processor: Processor, payment: ProcessorPayment) =>
      Effect.suspend((): Effect.Effect<SendOutcome, ProcessorUnavailable | ProcessorAmbiguous> => {
        calls.push({ kind: "send", processor, correlationId: payment.correlationId, requestedAt: payment.requestedAt })
        const next = script.send.shift()
        if (next === undefined) return Effect.die(new Error(`unscripted send to ${processor}`))
        const [expected, reply] = next
        if (expected !== processor) {
          return Effect.die(new Error(`send went to ${processor}, script expected ${expected}`))
        }
        if (reply === "unavailable") return Effect.fail(new ProcessorUnavailable({ processor, reason: "status 500" }))
        if (reply === "ambiguous") return Effect.fail(new ProcessorAmbiguous({ processor, reason: "timeout" }))
        return Effect.succeed(reply)
      }),
    lookup: (processor: Processor, correlationId: string) =>
      Effect.suspend(() => {
        calls.push({ kind: "lookup", processor, correlationId })
        const next = script.lookup?.shift()
        if (next === undefined) return Effect.die(new Error(`unscripted lookup at ${processor}`))
        if (next[0] !== processor) return Effect.die(new Error(`lookup went to ${processor}, expected ${next[0]}`))
        return Effect.succeed(next[1])
      })
  })
  return { calls, layer }
}

const payment = { correlationId: "0b0f7c1c-59f6-4a5e-9a51-6c0f8f1e2d3a", amount: 20.05 }

const forwarderWith = (
  gateway: Layer.Layer<ProcessorGateway>,
  options: { readonly maxHold?: string; readonly drainRate?: string; readonly drain?: Layer.Layer<DrainRate> } = {}
) =>
  PaymentForwarder.layer.pipe(
    Layer.provide(gateway),
    Layer.provide(Layer.mergeAll(ProcessorHealth.layerTest, PaymentIntake.layerMemory)),
    // the drain fixed at ROUTING_DRAIN_RATE unless the test gives its own: this process's CPU is not the test's
    Layer.provide(options.drain ?? DrainRate.layer),
    Layer.provideMerge(PaymentQueue.layer),
    Layer.provide(Metrics.layerTest),
    Layer.provide(AppConfig.layerTest(
      { retryBase: Duration.millis(100), retryMax: Duration.seconds(1) },
      {
        ROUTING_MAX_HOLD: options.maxHold ?? "0 millis",
        ...(options.drainRate === undefined ? {} : { ROUTING_DRAIN_RATE: options.drainRate }),
        ROUTING_DRAIN_MAX_RATE: options.drainRate ?? "150"
      }
    ))
  )

/** Runs the forward in a fiber and moves the test clock on until it finishes. */
const forwardWithClock = Effect.fn(function*(step: Duration.Input = "1 second") {
  const forwarder = yield* PaymentForwarder
  const fiber = yield* Effect.forkChild(forwarder.forward(payment))
  for (let i = 0; i < 50 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust(step)
  return yield* Fiber.join(fiber)
})

/**
 * `arrivals` payments arrive within a second, then 3,000 are forwarded at once to a gateway that takes each at once:
 * how many were sent at first and after each of `steps` (milliseconds the test clock moves on, one after another).
 * `beforeForwarding` runs once the arrivals are in.
 */
const pacedSends = (arrivals: number, steps: ReadonlyArray<number>, beforeForwarding: () => void = () => {}) => {
  let sends = 0
  const gateway = stub(ProcessorGateway, {
    send: () =>
      Effect.sync((): SendOutcome => {
        sends++
        return "processed"
      })
  })
  const sendsAfter = Effect.gen(function*() {
    const queue = yield* PaymentQueue
    const forwarder = yield* PaymentForwarder
    yield* TestClock.setTime(1_000_000)
    for (let i = 0; i < arrivals; i++) yield* queue.offer({ ...payment, correlationId: crypto.randomUUID() })
    yield* TestClock.adjust("999 millis")
    beforeForwarding()
    const fibers = yield* Effect.forEach(
      Array.from({ length: 3_000 }, () => ({ ...payment, correlationId: crypto.randomUUID() })),
      (p) => Effect.forkChild(forwarder.forward(p))
    )
    for (let i = 0; i < 10; i++) yield* Effect.yieldNow
    const seen = [sends]
    for (const step of steps) {
      yield* TestClock.adjust(Duration.millis(step))
      seen.push(sends)
    }
    yield* Effect.forEach(fibers, Fiber.join)
    return seen
  })
  return { gateway, sendsAfter }
}

describe("PaymentForwarder", () => {
  it.effect("records on default when default takes the payment, with the requestedAt it sent", () => {
    const gateway = scriptedGateway({ send: [["default", "processed"]] })
    return Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2025-08-20T12:00:00.123Z"))
      const recorded = yield* (yield* PaymentForwarder).forward(payment)
      assert.strictEqual(recorded.processor, "default")
      assert.strictEqual(recorded.amount, 20.05)
      assert.strictEqual(recorded.requestedAt.toISOString(), "2025-08-20T12:00:00.123Z")
      assert.deepStrictEqual(gateway.calls.map((c) => c.requestedAt?.toISOString()), ["2025-08-20T12:00:00.123Z"])
    }).pipe(Effect.provide(forwarderWith(gateway.layer)))
  })

  it.effect("falls back when default cannot take the payment", () => {
    const gateway = scriptedGateway({ send: [["default", "unavailable"], ["fallback", "processed"]] })
    return Effect.gen(function*() {
      const recorded = yield* (yield* PaymentForwarder).forward(payment)
      assert.strictEqual(recorded.processor, "fallback")
      assert.deepStrictEqual(gateway.calls.map((c) => c.processor), ["default", "fallback"])
    }).pipe(Effect.provide(forwarderWith(gateway.layer)))
  })

  it.effect("with hold-for-default on, waits out default's refusal and records on default, never paying fallback", () => {
    const gateway = scriptedGateway({ send: [["default", "unavailable"], ["default", "processed"]] })
    return Effect.gen(function*() {
      // payments are arriving: the hold is only kept while they do
      yield* (yield* PaymentQueue).offer({ ...payment, correlationId: crypto.randomUUID() })
      const recorded = yield* forwardWithClock("100 millis")
      assert.strictEqual(recorded.processor, "default")
      assert.deepStrictEqual(gateway.calls.map((c) => c.processor), ["default", "default"])
    }).pipe(Effect.provide(forwarderWith(gateway.layer, { maxHold: "1 minute" })))
  })

  it.effect("with hold-for-default on, holds nothing once payments stop arriving", () => {
    const gateway = scriptedGateway({ send: [["default", "unavailable"], ["fallback", "processed"]] })
    return Effect.gen(function*() {
      const recorded = yield* forwardWithClock("100 millis")
      assert.strictEqual(recorded.processor, "fallback")
    }).pipe(Effect.provide(forwarderWith(gateway.layer, { maxHold: "1 minute" })))
  })

  it.effect("with hold-for-default on, pays fallback once the hold runs out", () => {
    const gateway = scriptedGateway({ send: [["default", "unavailable"], ["fallback", "processed"]] })
    return Effect.gen(function*() {
      const recorded = yield* forwardWithClock("100 millis")
      assert.strictEqual(recorded.processor, "fallback")
    }).pipe(Effect.provide(forwarderWith(gateway.layer, { maxHold: "200 millis" })))
  })

  it.effect("treats a 422 from the processor it sent to as recorded there", () => {
    const gateway = scriptedGateway({ send: [["default", "duplicate"]] })
    return Effect.gen(function*() {
      const recorded = yield* (yield* PaymentForwarder).forward(payment)
      assert.strictEqual(recorded.processor, "default")
      assert.strictEqual(gateway.calls.length, 1)
    }).pipe(Effect.provide(forwarderWith(gateway.layer)))
  })

  it.effect("settles an ambiguous send against the same processor with the same requestedAt, never the fallback", () => {
    const gateway = scriptedGateway({
      send: [["default", "ambiguous"], ["default", "unavailable"], ["default", "duplicate"]],
      lookup: [["default", Option.none()], ["default", Option.none()]]
    })
    return Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2025-08-20T12:00:00.000Z"))
      const recorded = yield* forwardWithClock()
      assert.strictEqual(recorded.processor, "default")
      assert.strictEqual(recorded.requestedAt.toISOString(), "2025-08-20T12:00:00.000Z")
      assert.deepStrictEqual(
        gateway.calls.map((c) => `${c.kind}:${c.processor}`),
        ["send:default", "lookup:default", "send:default", "lookup:default", "send:default"]
      )
      const sentAt = gateway.calls.filter((c) => c.kind === "send").map((c) => c.requestedAt?.toISOString())
      assert.deepStrictEqual(sentAt, Array(3).fill("2025-08-20T12:00:00.000Z"))
    }).pipe(Effect.provide(forwarderWith(gateway.layer)))
  })

  it.effect("records an ambiguous send that the processor turns out to hold, without sending it again", () => {
    const gateway = scriptedGateway({
      send: [["default", "ambiguous"]],
      lookup: [["default", Option.some({ amount: 20.05, requestedAt: new Date(0) })]]
    })
    return Effect.gen(function*() {
      const recorded = yield* (yield* PaymentForwarder).forward(payment)
      assert.strictEqual(recorded.processor, "default")
      assert.deepStrictEqual(gateway.calls.map((c) => c.kind), ["send", "lookup"])
    }).pipe(Effect.provide(forwarderWith(gateway.layer)))
  })

  it.effect("never falls back after an ambiguous send on the fallback either", () => {
    const gateway = scriptedGateway({
      send: [["default", "unavailable"], ["fallback", "ambiguous"], ["fallback", "processed"]],
      lookup: [["fallback", Option.none()]]
    })
    return Effect.gen(function*() {
      const recorded = yield* forwardWithClock()
      assert.strictEqual(recorded.processor, "fallback")
      assert.deepStrictEqual(gateway.calls.map((c) => `${c.kind}:${c.processor}`), [
        "send:default",
        "send:fallback",
        "lookup:fallback",
        "send:fallback"
      ])
    }).pipe(Effect.provide(forwarderWith(gateway.layer)))
  })

  it.effect("waits while both processors refuse, then tries again, stamping each attempt anew", () => {
    const gateway = scriptedGateway({
      send: [
        ["default", "unavailable"],
        ["fallback", "unavailable"],
        ["default", "unavailable"],
        ["fallback", "unavailable"],
        ["default", "processed"]
      ]
    })
    return Effect.gen(function*() {
      const forwarder = yield* PaymentForwarder
      const fiber = yield* Effect.forkChild(forwarder.forward(payment))
      yield* Effect.yieldNow
      assert.strictEqual(gateway.calls.length, 2)
      assert.isUndefined(fiber.pollUnsafe())
      for (let i = 0; i < 50 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("100 millis")
      const recorded = yield* Fiber.join(fiber)
      assert.strictEqual(recorded.processor, "default")
      assert.strictEqual(gateway.calls.length, 5)
      const times = gateway.calls.map((c) => c.requestedAt!.getTime())
      assert.isTrue(times[4] > times[0], "the successful attempt carries a later requestedAt")
      assert.strictEqual(recorded.requestedAt.getTime(), times[4])
    }).pipe(Effect.provide(forwarderWith(gateway.layer)))
  })

  it.effect("paces sends to the arrival rate plus ROUTING_DRAIN_RATE, however fast payments arrive", () => {
    // 2,000 payments arrive within a second: the arrival rate is 2,000/s, and 2,150 sends a second may leave. A
    // tenth of a second's worth leaves at once, and the 3,000th slot comes 2,999 intervals of 1/2,152 s later, less
    // the burst
    const { gateway, sendsAfter } = pacedSends(2_000, [100, 1194, 1])
    return sendsAfter.pipe(
      Effect.map((sends) => assert.deepStrictEqual(sends, [215, 430, 2_999, 3_000])),
      Effect.provide(forwarderWith(gateway, { drainRate: "150" }))
    )
  })

  it.effect("paces to the arrival rate plus the drain rate DrainRate gives at the moment", () => {
    let drainRate = 150
    const drain = Layer.succeed(DrainRate, DrainRate.of({ current: () => drainRate }))
    // 1,000 payments arrive within a second, and by then the CPU has room: the drain is up to 1,000 a second, so
    // about 2,001 sends a second may leave (1,000 in 0.999 s, plus 1,000)
    const { gateway, sendsAfter } = pacedSends(1_000, [100, 1299, 1], () => drainRate = 1_000)
    return sendsAfter.pipe(
      Effect.map((sends) => assert.deepStrictEqual(sends, [200, 400, 2_999, 3_000])),
      Effect.provide(forwarderWith(gateway, { drain }))
    )
  })
})

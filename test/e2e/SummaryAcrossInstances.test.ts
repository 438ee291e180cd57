import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import * as Simulator from "../../tools/simulator/ProcessorSimulator.ts"
import { backendName, sharedDatabaseUrl } from "../support/database.ts"
import { freePort, postPayment, startNode, waitReady } from "../support/process.ts"

interface Totals {
  readonly totalRequests: number
  readonly totalAmount: number
}

const summaryOf = (port: number) =>
  Effect.tryPromise(() =>
    fetch(`http://127.0.0.1:${port}/payments-summary`).then(async (response) => ({
      status: response.status,
      body: await response.text()
    }))
  )

describe(`the summary across instances on ${backendName}`, () => {
  it.live(
    "served by one instance it counts what the other got answers for and has not written yet, or is a 503",
    () =>
      Effect.gen(function*() {
        const primary = yield* Simulator.make({ fee: 0.05 })
        const secondary = yield* Simulator.make({ fee: 0.15 })
        const databaseUrl = yield* sharedDatabaseUrl
        const env = (port: number, name: string, extra: Record<string, string> = {}) => ({
          PORT: String(port),
          HOST: "127.0.0.1",
          INSTANCE_ID: name,
          DATABASE_URL: databaseUrl,
          PAYMENT_PROCESSOR_URL_DEFAULT: primary.url,
          PAYMENT_PROCESSOR_URL_FALLBACK: secondary.url,
          LOG_LEVEL: "Warn",
          ...extra
        })
        const portA = yield* freePort
        const portB = yield* freePort
        const a = yield* startNode("src/main.ts", env(portA, "a"))
        // b's recorder is held back: after a write it waits 6 s before the next one
        const b = yield* startNode("src/main.ts", env(portB, "b", { RECORD_BATCH_INTERVAL: "6 seconds" }))
        yield* waitReady(portA, a)
        yield* waitReady(portB, b)

        const processors = Effect.gen(function*() {
          return { default: yield* primary.summary(), fallback: yield* secondary.summary() }
        })
        const settled = (n: number) =>
          processors.pipe(
            Effect.repeat({
              schedule: Schedule.spaced("50 millis"),
              until: (s) => s.default.totalRequests + s.fallback.totalRequests >= n
            }),
            Effect.timeout("20 seconds")
          )
        // the first is written at once; the next ones wait for b's next write, seconds away
        assert.strictEqual(yield* postPayment(portB, crypto.randomUUID()), 202)
        yield* settled(1)
        yield* Effect.sleep("300 millis")
        const statuses = yield* Effect.forEach(
          Array.from({ length: 20 }, () => crypto.randomUUID()),
          (id) => postPayment(portB, id),
          { concurrency: 5 }
        )
        assert.isTrue(statuses.every((status) => status === 202), String(statuses))
        const atProcessors = yield* settled(21)

        const exact = (body: string) => {
          const served = JSON.parse(body) as { readonly default: Totals; readonly fallback: Totals }
          for (const name of ["default", "fallback"] as const) {
            assert.strictEqual(served[name].totalRequests, atProcessors[name].totalRequests, `${name}: ${body}`)
            assert.closeTo(served[name].totalAmount, atProcessors[name].totalAmount, 0.001, `${name}: ${body}`)
          }
        }
        const early = yield* summaryOf(portA)
        if (early.status === 200) exact(early.body)
        else {
          assert.strictEqual(early.status, 503, early.body)
          assert.include(early.body, "instance b ", "the 503 names the instance behind")
        }

        // once b has written, a answers, exactly
        const later = yield* summaryOf(portA).pipe(
          Effect.repeat({ schedule: Schedule.spaced("250 millis"), until: (answer) => answer.status === 200 }),
          Effect.timeout("20 seconds")
        )
        exact(later.body)
      }).pipe(Effect.scoped),
    { timeout: 90_000 }
  )
})

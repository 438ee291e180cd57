import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import * as Simulator from "../../tools/simulator/ProcessorSimulator.ts"
import { backendName, sharedDatabaseUrl } from "../support/database.ts"
import { freePort, postPayment, startNode, waitReady } from "../support/process.ts"

const summary = (port: number) =>
  Effect.tryPromise(() =>
    fetch(`http://127.0.0.1:${port}/payments-summary`).then((r) =>
      r.json() as Promise<{ default: { totalRequests: number }; fallback: { totalRequests: number } }>
    )
  )

describe(`durable intake on ${backendName}`, () => {
  it.live(
    "payments accepted by an instance killed with SIGKILL are finished by another, each exactly once",
    () =>
      Effect.gen(function*() {
        const primary = yield* Simulator.make({ fee: 0.07 })
        const secondary = yield* Simulator.make({ fee: 0.1 })
        yield* primary.setDelay(300)
        const databaseUrl = yield* sharedDatabaseUrl
        const env = (port: number, name: string) => ({
          PORT: String(port),
          HOST: "127.0.0.1",
          INSTANCE_ID: name,
          DATABASE_URL: databaseUrl,
          INTAKE_DURABILITY: "postgres",
          INTAKE_CLAIM_LEASE: "2 seconds",
          PAYMENT_WORKERS: "2",
          PAYMENT_PROCESSOR_URL_DEFAULT: primary.url,
          PAYMENT_PROCESSOR_URL_FALLBACK: secondary.url,
          LOG_LEVEL: "Warn"
        })

        const portA = yield* freePort
        const a = yield* startNode("src/main.ts", env(portA, "a"))
        yield* waitReady(portA, a)
        const ids = Array.from({ length: 100 }, () => crypto.randomUUID())
        const statuses = yield* Effect.forEach(ids, (id) => postPayment(portA, id), { concurrency: 20 })
        assert.isTrue(statuses.every((s) => s === 202), String(statuses))
        a.child.kill("SIGKILL")
        yield* a.exited
        const forwardedByA = (yield* primary.summary()).totalRequests + (yield* secondary.summary()).totalRequests
        assert.isBelow(forwardedByA, 100, "the instance died with payments still to forward")

        const portB = yield* freePort
        const b = yield* startNode("src/main.ts", env(portB, "b"))
        yield* waitReady(portB, b)
        const total = Effect.gen(function*() {
          return (yield* primary.summary()).totalRequests + (yield* secondary.summary()).totalRequests
        })
        const reached = yield* total.pipe(
          Effect.repeat({ schedule: Schedule.spaced("250 millis"), until: (n) => n >= 100 }),
          Effect.timeout("60 seconds"),
          Effect.orElseSucceed(() => -1)
        )
        assert.strictEqual(reached, 100, `every accepted payment reached a processor (${b.output()})`)
        yield* Effect.sleep("1 second")
        assert.strictEqual(yield* total, 100, "and none twice")
        const recorded = yield* summary(portB).pipe(
          Effect.repeat({
            schedule: Schedule.spaced("250 millis"),
            until: (s) => s.default.totalRequests + s.fallback.totalRequests >= 100
          }),
          Effect.timeout("20 seconds")
        )
        assert.strictEqual(recorded.default.totalRequests, (yield* primary.summary()).totalRequests)
        assert.strictEqual(recorded.fallback.totalRequests, (yield* secondary.summary()).totalRequests)
        const again = yield* postPayment(portB, ids[0])
        assert.strictEqual(again, 202, "a recorded payment posted again is acknowledged")
        yield* Effect.sleep("500 millis")
        assert.strictEqual(yield* total, 100, "and not forwarded again")
      }).pipe(Effect.scoped),
    { timeout: 150_000 }
  )
})

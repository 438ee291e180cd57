import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schedule } from "effect"
import * as TcpProxy from "../../tools/faults/TcpProxy.ts"
import * as Simulator from "../../tools/simulator/ProcessorSimulator.ts"
import { backendName, databaseUrl, sharedDatabaseUrl } from "../support/database.ts"
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

/**
 * Two instances, a and b, on one database and two simulators; b gets `extra` in its environment and, with
 * `throughProxy`, reaches the database through a TCP proxy the test can cut.
 */
const twoInstances = (extra: Record<string, string>, throughProxy = false) =>
  Effect.gen(function*() {
    const primary = yield* Simulator.make({ fee: 0.05 })
    const secondary = yield* Simulator.make({ fee: 0.15 })
    const url = yield* sharedDatabaseUrl
    const proxied = throughProxy ? Option.some(yield* TcpProxy.toDatabase(url)) : Option.none()
    const env = (port: number, name: string, databaseUrl: string, extra: Record<string, string> = {}) => ({
      PORT: String(port),
      HOST: "127.0.0.1",
      INSTANCE_ID: name,
      DATABASE_URL: databaseUrl,
      PAYMENT_PROCESSOR_URL_DEFAULT: primary.url,
      PAYMENT_PROCESSOR_URL_FALLBACK: secondary.url,
      LOG_LEVEL: "Error",
      ...extra
    })
    const urlForB = Option.match(proxied, { onNone: () => url, onSome: (proxied) => proxied.url })
    const portA = yield* freePort
    const portB = yield* freePort
    const a = yield* startNode("src/main.ts", env(portA, "a", url))
    const b = yield* startNode("src/main.ts", env(portB, "b", urlForB, extra))
    yield* waitReady(portA, a)
    yield* waitReady(portB, b)

    const processors = Effect.gen(function*() {
      return { default: yield* primary.summary(), fallback: yield* secondary.summary() }
    })
    /** Posts `n` payments to b and waits until the processors hold `total`; what they hold then. */
    const postToB = (n: number, total: number) =>
      Effect.gen(function*() {
        const statuses = yield* Effect.forEach(
          Array.from({ length: n }, () => crypto.randomUUID()),
          (id) => postPayment(portB, id),
          { concurrency: 5 }
        )
        assert.isTrue(statuses.every((status) => status === 202), String(statuses))
        return yield* processors.pipe(
          Effect.repeat({
            schedule: Schedule.spaced("50 millis"),
            until: (s) => s.default.totalRequests + s.fallback.totalRequests >= total
          }),
          Effect.timeout("20 seconds")
        )
      })
    return { portA, proxy: Option.map(proxied, ({ proxy }) => proxy), postToB }
  })

const assertExact = (body: string, atProcessors: Record<"default" | "fallback", Totals>) => {
  const served = JSON.parse(body) as { readonly default: Totals; readonly fallback: Totals }
  for (const name of ["default", "fallback"] as const) {
    assert.strictEqual(served[name].totalRequests, atProcessors[name].totalRequests, `${name}: ${body}`)
    assert.closeTo(served[name].totalAmount, atProcessors[name].totalAmount, 0.001, `${name}: ${body}`)
  }
}

const exactOnceWritten = (port: number, atProcessors: Record<"default" | "fallback", Totals>) =>
  summaryOf(port).pipe(
    Effect.repeat({ schedule: Schedule.spaced("250 millis"), until: (answer) => answer.status === 200 }),
    Effect.timeout("20 seconds"),
    Effect.map((answer) => assertExact(answer.body, atProcessors))
  )

describe(`the summary across instances on ${backendName}`, () => {
  it.live(
    "served by one instance it counts what the other got answers for and has not written yet, or is a 503",
    () =>
      Effect.gen(function*() {
        // b's recorder writes at most every 6 s
        const { portA, postToB } = yield* twoInstances({ RECORD_BATCH_INTERVAL: "6 seconds" })
        // the first is written at once; the next ones would wait for b's next write, seconds away
        yield* postToB(1, 1)
        yield* Effect.sleep("300 millis")
        const atProcessors = yield* postToB(20, 21)

        const early = yield* summaryOf(portA)
        if (Option.isSome(databaseUrl)) {
          // asked through NOTIFY, b writes what it holds at once
          assert.strictEqual(early.status, 200, early.body)
          assertExact(early.body, atProcessors)
        } else if (early.status === 200) {
          assertExact(early.body, atProcessors)
        } else {
          // the PGlite test server runs one session for every connection: no notification reaches b
          assert.strictEqual(early.status, 503, early.body)
          assert.include(early.body, "instance b ", "the 503 names the instance behind")
        }
        yield* exactOnceWritten(portA, atProcessors)
      }).pipe(Effect.scoped),
    { timeout: 90_000 }
  )

  it.live(
    "while the other instance cannot write it is a 503 that names it, and exact once it has written",
    () =>
      Effect.gen(function*() {
        // b's mark stays alive for the whole test, as that of an instance that is up
        const { portA, postToB, proxy } = yield* twoInstances({ RECORDER_MARK_LEASE: "60 seconds" }, true)
        const cut = Option.getOrThrow(proxy)
        yield* postToB(1, 1)
        yield* exactOnceWritten(portA, yield* postToB(0, 1))

        yield* cut.cut
        const atProcessors = yield* postToB(20, 21)
        const held = yield* summaryOf(portA)
        assert.strictEqual(held.status, 503, held.body)
        assert.include(held.body, "instance b ", "the 503 names the instance behind")

        yield* cut.restore
        yield* exactOnceWritten(portA, atProcessors)
      }).pipe(Effect.scoped),
    { timeout: 90_000 }
  )
})

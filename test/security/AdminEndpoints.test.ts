import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule, Schema } from "effect"
import { build } from "esbuild"
import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { postPayment } from "../support/process.ts"
import { startService } from "../support/service.ts"

const adminMentions = [/x-rinha-token/i, /\/admin\b/i]

const mentionsAdmin = (file: string) =>
  Effect.map(
    Effect.promise(() => readFile(file, "utf8")),
    (text) => adminMentions.some((pattern) => pattern.test(text))
  )

const call = (url: string, init: RequestInit = {}) =>
  Effect.tryPromise(() => fetch(url, init).then((response) => response.text().then(() => response.status)))

const Totals = Schema.Struct({ totalRequests: Schema.Number })
const Summary = Schema.Struct({ default: Totals, fallback: Totals })

const recordedTotal = (port: number) =>
  Effect.tryPromise(() => fetch(`http://127.0.0.1:${port}/payments-summary`).then((response) => response.json())).pipe(
    Effect.flatMap(Schema.decodeUnknownEffect(Summary)),
    Effect.map((summary) => summary.default.totalRequests + summary.fallback.totalRequests)
  )

describe("the processors' admin endpoints", () => {
  it.live(
    "the whole service pays on both processors, answers a summary and purges without one request to /admin",
    () =>
      Effect.gen(function*() {
        // hold-for-default off: default fails from the eleventh payment on, and fallback must take the rest
        const { port, primary, secondary } = yield* startService({ ROUTING_MAX_HOLD: "0 millis" })
        const pay = (count: number) =>
          Effect.forEach(
            Array.from({ length: count }, () => crypto.randomUUID()),
            (id) => postPayment(port, id),
            { concurrency: 5 }
          )
        assert.deepStrictEqual(new Set(yield* pay(10)), new Set([202]))
        yield* recordedTotal(port).pipe(
          Effect.repeat({ until: (total) => total === 10, schedule: Schedule.spaced("100 millis") }),
          Effect.timeout("20 seconds")
        )
        yield* primary.setFailure(true)
        assert.deepStrictEqual(new Set(yield* pay(10)), new Set([202]))
        yield* recordedTotal(port).pipe(
          Effect.repeat({ until: (total) => total === 20, schedule: Schedule.spaced("100 millis") }),
          Effect.timeout("30 seconds")
        )
        assert.strictEqual(yield* call(`http://127.0.0.1:${port}/purge-payments`, { method: "POST" }), 200)
        assert.strictEqual(yield* recordedTotal(port), 0)

        for (const processor of [primary, secondary]) {
          assert.isAbove((yield* processor.stats).paymentRequests, 0, "each processor was sent payments")
          assert.deepStrictEqual(yield* processor.adminTraffic, { adminRequests: 0, tokenRequests: 0 })
        }

        const control = yield* call(`${primary.url}/admin/payments-summary`, { headers: { "X-Rinha-Token": "123" } })
        assert.strictEqual(control, 200)
        assert.deepStrictEqual(yield* primary.adminTraffic, { adminRequests: 1, tokenRequests: 1 }, "the count works")
      }).pipe(Effect.scoped),
    { timeout: 90_000 }
  )

  it.live("main.ts is built from no tool, and nothing in src/ or main.ts is built from names them", () =>
    Effect.gen(function*() {
      const bundle = yield* Effect.promise(() =>
        build({
          entryPoints: ["src/main.ts"],
          bundle: true,
          write: false,
          metafile: true,
          platform: "node",
          format: "esm",
          packages: "external",
          logLevel: "silent"
        })
      )
      const builtFrom = Object.keys(bundle.metafile.inputs)
      assert.includeMembers(builtFrom, ["src/main.ts", "src/processors/ProcessorGateway.ts"])
      assert.deepStrictEqual(builtFrom.filter((file) => file.startsWith("tools/")), [])

      const sources = (yield* Effect.promise(() => readdir("src", { recursive: true })))
        .map((file) => join("src", file))
        .filter((file) => file.endsWith(".ts"))
      const offending = yield* Effect.filter([...new Set([...builtFrom, ...sources])], mentionsAdmin)
      assert.deepStrictEqual(offending, [])
    }))
})

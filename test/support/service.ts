import { Effect, Redacted } from "effect"
import * as Simulator from "../../tools/simulator/ProcessorSimulator.ts"
import { isolatedDatabase } from "./database.ts"
import { freePort, startNode, waitReady } from "./process.ts"

/**
 * The service as a process (`node src/main.ts`), ready, with two processor simulators and a database of its own;
 * `env` adds to or overrides its environment. Everything stops when the scope closes.
 */
export const startService = (env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const primary = yield* Simulator.make({ fee: 0.05 })
    const secondary = yield* Simulator.make({ fee: 0.15 })
    const port = yield* freePort
    const database = yield* isolatedDatabase
    const service = yield* startNode("src/main.ts", {
      PORT: String(port),
      HOST: "127.0.0.1",
      PAYMENT_PROCESSOR_URL_DEFAULT: primary.url,
      PAYMENT_PROCESSOR_URL_FALLBACK: secondary.url,
      ...(database._tag === "Url" ? { DATABASE_URL: Redacted.value(database.url) } : {}),
      ...env
    })
    yield* waitReady(port, service)
    return { port, service, primary, secondary }
  })

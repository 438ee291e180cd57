/**
 * `pnpm dev`: the service on :9999 with the embedded database (unless one is configured) and two processor
 * simulators on :8001 (default, fee 0.07) and :8002 (fallback, fee 0.10), all in one process.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { AppLive } from "../src/App.ts"
import { AppConfig } from "../src/config/AppConfig.ts"
import { LoggingLive } from "../src/observability/Logging.ts"
import { TracingLive } from "../src/observability/Tracing.ts"
import * as Simulator from "./simulator/ProcessorSimulator.ts"

const Simulators = Layer.effectDiscard(Effect.gen(function*() {
  const primary = yield* Simulator.make({ fee: 0.07, port: 8001 })
  const secondary = yield* Simulator.make({ fee: 0.1, port: 8002 })
  yield* Effect.logInfo("processor simulators ready").pipe(
    Effect.annotateLogs({ default: primary.url, fallback: secondary.url, adminToken: "123" })
  )
}))

const DevLive = AppLive.pipe(
  Layer.tap(() => Effect.logInfo("payment service ready on http://localhost:9999")),
  Layer.provide(Simulators),
  Layer.provide(TracingLive),
  Layer.provide(LoggingLive),
  Layer.provide(AppConfig.layer)
)

NodeRuntime.runMain(Layer.launch(DevLive))

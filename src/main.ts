import { NodeRuntime } from "@effect/platform-node"
import { Exit, Layer, Runtime } from "effect"
import { AppLive } from "./App.ts"
import { AppConfig } from "./config/AppConfig.ts"
import { LoggingLive } from "./observability/Logging.ts"
import { TracingLive } from "./observability/Tracing.ts"

const MainLive = AppLive.pipe(
  Layer.provide(TracingLive),
  Layer.provide(LoggingLive),
  Layer.provide(AppConfig.layer)
)

NodeRuntime.runMain(Layer.launch(MainLive), {
  teardown: (exit, onExit) =>
    Exit.isFailure(exit) && Exit.hasInterrupts(exit) && !Exit.hasFails(exit) && !Exit.hasDies(exit)
      ? onExit(0)
      : Runtime.defaultTeardown(exit, onExit)
})

import { Effect, Layer, Logger, References } from "effect"
import { AppConfig } from "../config/AppConfig.ts"

/** JSON lines on stdout at LOG_LEVEL (default Info); the request path logs nothing at that level. */
export const LoggingLive = Layer.unwrap(Effect.gen(function*() {
  const { logLevel } = yield* AppConfig
  return Layer.merge(
    Logger.layer([Logger.consoleJson]),
    Layer.succeed(References.MinimumLogLevel, logLevel)
  )
}))

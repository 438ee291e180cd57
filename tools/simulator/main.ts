/**
 * `pnpm sim -- --port 8001 --fee 0.07 [--token 123] [--host 0.0.0.0]`: one payment processor simulator, until
 * SIGINT/SIGTERM.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schema } from "effect"
import { parseArgs } from "node:util"
import * as ProcessorSimulator from "./ProcessorSimulator.ts"

const Args = Schema.Struct({
  port: Schema.FiniteFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 65_535 })),
  fee: Schema.FiniteFromString.check(Schema.isGreaterThanOrEqualTo(0)),
  token: Schema.String,
  host: Schema.String
})

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg, index) => index > 0 || arg !== "--"),
  options: {
    port: { type: "string", default: "8001" },
    fee: { type: "string", default: "0.05" },
    token: { type: "string", default: "123" },
    host: { type: "string", default: "127.0.0.1" }
  }
})

const Main = Layer.unwrap(Effect.gen(function*() {
  const options = yield* Schema.decodeUnknownEffect(Args)(values)
  const announce = Effect.gen(function*() {
    const simulator = yield* ProcessorSimulator.ProcessorSimulator
    yield* Console.log(
      `payment processor simulator listening on http://${options.host}:${simulator.port} ` +
        `(fee ${options.fee}, token ${options.token})`
    )
  })
  return Layer.effectDiscard(announce).pipe(Layer.provide(ProcessorSimulator.layer(options)))
}))

NodeRuntime.runMain(Layer.launch(Main))

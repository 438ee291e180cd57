/**
 * `node tools/process/PgliteServer.ts --port 5433 [--host 127.0.0.1] [--max-connections 40]`: an in-memory PGlite
 * served over TCP, until SIGINT/SIGTERM, for what runs several service processes on one embedded database (tests,
 * the fault matrix, the arena). It starts as the service's embedded database does, from the saved initdb template,
 * instead of running initdb every time (about 5 s of CPU, 1 GB at its peak). Each connection's statements reach it
 * whole, whatever the others send (`src/database/PgliteWire.ts`).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option, Schema } from "effect"
import { parseArgs } from "node:util"
import { defaultTemplatePath, serveEmbeddedPostgres } from "../../src/database/EmbeddedPostgres.ts"

const Args = Schema.Struct({
  port: Schema.FiniteFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 65_535 })),
  host: Schema.String,
  "max-connections": Schema.FiniteFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(1))
})

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "5432" },
    host: { type: "string", default: "127.0.0.1" },
    "max-connections": { type: "string", default: "40" }
  }
})

const main = Effect.gen(function*() {
  const options = yield* Schema.decodeUnknownEffect(Args)(values)
  yield* serveEmbeddedPostgres({
    dataDir: Option.none(),
    maxConnections: options["max-connections"],
    templatePath: yield* defaultTemplatePath,
    listen: { host: options.host, port: options.port }
  })
  yield* Console.log(`PGlite listening on postgres://postgres@${options.host}:${options.port}/postgres`)
  return yield* Effect.never
}).pipe(Effect.scoped)

NodeRuntime.runMain(main)

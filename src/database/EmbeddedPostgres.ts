import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Data, Effect, Option } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  readonly cause: unknown
}> {}

/**
 * Starts an in-process PostgreSQL (PGlite) and serves it on a private unix socket, so the regular PgClient talks
 * to it exactly as it talks to a real server. Returns the socket path; everything stops when the scope closes.
 */
export const startEmbeddedPostgres = Effect.fn("EmbeddedPostgres.start")(
  function*(options: { readonly dataDir: Option.Option<string>; readonly maxConnections: number }) {
    const directory = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => mkdtemp(join(tmpdir(), "pglite-")),
        catch: (cause) => new EmbeddedPostgresError({ message: "cannot create the socket directory", cause })
      }),
      (directory) => Effect.promise(() => rm(directory, { recursive: true, force: true }))
    )
    const db = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => PGlite.create(Option.getOrElse(options.dataDir, () => "memory://")),
        catch: (cause) => new EmbeddedPostgresError({ message: "cannot start PGlite", cause })
      }),
      (db) => Effect.promise(() => db.close()).pipe(Effect.timeoutOption("2 seconds"))
    )
    const path = join(directory, ".s.PGSQL.5432")
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => {
          const server = new PGLiteSocketServer({ db, path, maxConnections: options.maxConnections })
          return server.start().then(() => server)
        },
        catch: (cause) => new EmbeddedPostgresError({ message: "cannot serve PGlite on a unix socket", cause })
      }),
      // stop() waits for every client to hang up, which a connection cut off mid-query never does
      (server) => Effect.promise(() => server.stop()).pipe(Effect.timeoutOption("1 second"))
    )
    return path
  }
)

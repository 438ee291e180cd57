import { PGlite } from "@electric-sql/pglite"
import { Data, Effect, Option, Schema } from "effect"
import { createHash } from "node:crypto"
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makePgliteWire } from "./PgliteWire.ts"

export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly message: string
  readonly cause: unknown
}> {}

/** Where the embedded database is served: a unix socket, or a TCP address. */
export type Listen =
  | { readonly path: string }
  | { readonly host: string; readonly port: number }

export interface EmbeddedOptions {
  readonly dataDir: Option.Option<string>
  readonly maxConnections: number
  /** Where an in-memory database's initial data directory is cached (see `openInMemory`); none: not cached. */
  readonly templatePath: Option.Option<string>
}

/**
 * Starts an in-process PostgreSQL (PGlite) and serves it on a private unix socket, so the regular PgClient talks
 * to it exactly as it talks to a real server. Returns the socket path; everything stops when the scope closes.
 */
export const startEmbeddedPostgres = Effect.fn("EmbeddedPostgres.start")(
  function*(options: EmbeddedOptions) {
    const directory = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => mkdtemp(join(tmpdir(), "pglite-")),
        catch: (cause) => new EmbeddedPostgresError({ message: "cannot create the socket directory", cause })
      }),
      (directory) => Effect.promise(() => rm(directory, { recursive: true, force: true }))
    )
    const path = join(directory, ".s.PGSQL.5432")
    yield* serveEmbeddedPostgres({ ...options, listen: { path } })
    return path
  }
)

/**
 * Starts PGlite and serves it at `listen` until the scope closes: what `startEmbeddedPostgres` does on its socket,
 * and what several processes sharing one embedded database (the tests, the fault matrix, the arena) get over TCP.
 */
export const serveEmbeddedPostgres = Effect.fnUntraced(function*(
  options: EmbeddedOptions & { readonly listen: Listen }
) {
  const db = yield* Effect.acquireRelease(
    Option.match(options.dataDir, {
      onNone: () => Option.match(options.templatePath, { onNone: () => create("memory://"), onSome: openInMemory }),
      onSome: (dataDir) => create(dataDir)
    }),
    (db) => Effect.promise(() => db.close()).pipe(Effect.timeoutOption("2 seconds"))
  )
  yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () => {
        const wire = makePgliteWire(db, options.maxConnections)
        return new Promise<typeof wire>((resolve, reject) => {
          wire.server.once("error", reject)
          const listening = () => resolve(wire)
          if ("path" in options.listen) wire.server.listen(options.listen.path, listening)
          else wire.server.listen(options.listen.port, options.listen.host, listening)
        })
      },
      catch: (cause) => new EmbeddedPostgresError({ message: "cannot serve PGlite", cause })
    }),
    (wire) => Effect.promise(() => wire.close()).pipe(Effect.timeoutOption("1 second"))
  )
})

const create = (dataDir: string, loadDataDir?: Blob) =>
  Effect.tryPromise({
    try: () => PGlite.create(dataDir, loadDataDir === undefined ? {} : { loadDataDir }),
    catch: (cause) => new EmbeddedPostgresError({ message: "cannot start PGlite", cause })
  })

/**
 * A new in-memory PGlite runs initdb, most of its start-up: loading the data directory initdb left instead spares
 * 5.5 of the 10.9 s of CPU a service start took here. It is saved once, as a tarball at `templatePath`, and later
 * starts load it. A template that cannot be read or loaded is replaced; one that cannot be saved is only not saved.
 */
const openInMemory = Effect.fnUntraced(function*(templatePath: string) {
  const template = yield* Effect.option(Effect.tryPromise(() => readFile(templatePath)))
  if (Option.isSome(template)) {
    const loaded = yield* Option.match(verified(template.value), {
      onNone: () => Effect.succeedNone,
      onSome: (dump) => Effect.option(create("memory://", new Blob([dump])))
    })
    if (Option.isSome(loaded)) return loaded.value
    yield* Effect.logWarning("the embedded database's template did not load; running initdb").pipe(
      Effect.annotateLogs({ templatePath })
    )
  }
  const db = yield* create("memory://")
  yield* saveTemplate(db, templatePath).pipe(
    Effect.catchCause((cause) =>
      Effect.logWarning("cannot save the embedded database's template", cause).pipe(
        Effect.annotateLogs({ templatePath })
      )
    )
  )
  return db
})

/**
 * The template is the SHA-256 of the dump, then the dump, a gzipped tarball: PGlite fails a truncated one with an
 * error it also throws where nothing can catch it, which ends the process.
 */
const digestLength = 32

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest()

const verified = (template: Buffer): Option.Option<Buffer> => {
  const dump = template.subarray(digestLength)
  return dump.length > 0 && sha256(dump).equals(template.subarray(0, digestLength)) ? Option.some(dump) : Option.none()
}

/** Written under a name of its own, then renamed: instances starting side by side never read half a file. */
export const saveTemplate = (db: PGlite, templatePath: string) =>
  Effect.gen(function*() {
    const dump = new Uint8Array(
      yield* Effect.tryPromise(() => db.dumpDataDir("gzip").then((file) => file.arrayBuffer()))
    )
    const partial = `${templatePath}.${crypto.randomUUID()}`
    yield* Effect.tryPromise(() => writeFile(partial, Buffer.concat([sha256(dump), dump]))).pipe(
      Effect.andThen(Effect.tryPromise(() => rename(partial, templatePath))),
      Effect.onError(() => Effect.promise(() => rm(partial, { force: true })))
    )
  })

const PackageVersion = Schema.fromJsonString(Schema.Struct({ version: Schema.String }))

/**
 * The template's default place: the system's temporary folder (`TMPDIR`), under a name that carries the installed
 * PGlite's version, since a data directory only loads in the PGlite that wrote it.
 */
export const defaultTemplatePath = Effect.tryPromise(() =>
  readFile(new URL("../package.json", import.meta.resolve("@electric-sql/pglite")), "utf8")
).pipe(
  Effect.flatMap(Schema.decodeUnknownEffect(PackageVersion)),
  Effect.map(({ version }) => join(tmpdir(), `rinha-pglite-${version}-initdb.tar.gz`)),
  Effect.option
)

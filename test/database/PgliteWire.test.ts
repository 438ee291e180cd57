import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { connect } from "node:net"
import { defaultTemplatePath, startEmbeddedPostgres } from "../../src/database/EmbeddedPostgres.ts"
import { protocolMessage } from "../../src/database/PgliteWire.ts"

const statements = Array.from({ length: 24 }, (_, i) => i)

/** An embedded database on its own socket, for several clients at once. */
const served = Effect.gen(function*() {
  return yield* startEmbeddedPostgres({
    dataDir: Option.none(),
    maxConnections: 20,
    templatePath: yield* defaultTemplatePath
  })
})

const client = (path: string) =>
  Layer.build(PgClient.layer({ path, username: "postgres", database: "postgres", maxConnections: 4 })).pipe(
    Effect.map(Context.get(SqlClient.SqlClient))
  )

/** Reads, writes and transactions, all at once: the answer each statement must get, and the statement. */
const mixed = (sql: SqlClient.SqlClient, i: number, round: number) =>
  i % 4 === 0
    ? sql.withTransaction(
      Effect.andThen(
        sql`INSERT INTO marks VALUES (${i})`,
        Effect.map(
          sql<{ marks: number }>`SELECT count(*)::int AS marks FROM marks WHERE statement = ${i}`,
          (rows) => ({ got: rows.map((row) => row.marks), expected: [round + 1] })
        )
      )
    )
    : Effect.map(
      sql<{ doubled: number }>`SELECT ${i}::int * 2 AS doubled`,
      (rows) => ({ got: rows.map((row) => row.doubled), expected: [2 * i] })
    )

/**
 * A client that logs in, runs `text` as a simple query, waits for its ReadyForQuery and hangs up without a word: what
 * a process killed mid-transaction leaves behind.
 */
const queryAndVanish = (path: string, text: string) =>
  Effect.callback<string>((resume) => {
    const startup = Buffer.from("\0\0\0\0\0\x03\0\0user\0postgres\0database\0postgres\0\0", "latin1")
    startup.writeInt32BE(startup.length, 0)
    const socket = connect(path, () => socket.write(startup))
    let received = Buffer.alloc(0)
    let readies = 0
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      for (;;) {
        if (received.length < 5) return
        const length = 1 + received.readInt32BE(1)
        if (received.length < length) return
        const type = String.fromCharCode(received[0]!)
        const status = String.fromCharCode(received[5]!)
        received = received.subarray(length)
        if (type !== "Z") continue
        if (++readies === 1) socket.write(protocolMessage("Q", Buffer.from(`${text}\0`)))
        else {
          socket.destroy()
          return resume(Effect.succeed(status))
        }
      }
    })
    socket.on("error", (error) => resume(Effect.die(error)))
  })

describe("the embedded database's server", () => {
  it.live(
    "keeps each connection's statements whole while three clients of four connections each query at once",
    () =>
      Effect.gen(function*() {
        const path = yield* served
        const clients = [yield* client(path), yield* client(path), yield* client(path)]
        yield* clients[0]!`CREATE TABLE marks (statement int)`
        for (let round = 0; round < 10; round++) {
          const answers = yield* Effect.forEach(
            statements,
            (i) => mixed(clients[i % clients.length]!, i, round),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual(answers.map((a) => a.got), answers.map((a) => a.expected), `round ${round}`)
        }
      }).pipe(Effect.scoped, Effect.timeout("40 seconds")),
    60_000
  )

  it.live(
    "ends the transaction of a connection that goes away inside it, and serves the others after",
    () =>
      Effect.gen(function*() {
        const path = yield* served
        const sql = yield* client(path)
        yield* sql`CREATE TABLE left_behind (n int)`
        const status = yield* queryAndVanish(path, "BEGIN; INSERT INTO left_behind VALUES (1)")
        assert.strictEqual(status, "T", "the vanished client was inside its transaction")
        const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM left_behind`
        assert.deepStrictEqual(rows, [{ n: 0 }])
        yield* sql`INSERT INTO left_behind VALUES (2)`
        assert.deepStrictEqual(yield* sql<{ n: number }>`SELECT n FROM left_behind`, [{ n: 2 }])
      }).pipe(Effect.scoped, Effect.timeout("30 seconds")),
    60_000
  )
})

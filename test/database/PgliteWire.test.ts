import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { connect } from "node:net"
import { defaultTemplatePath, startEmbeddedPostgres } from "../../src/database/EmbeddedPostgres.ts"
import { protocolMessage } from "../../src/database/PgliteWire.ts"

const statements = Array.from({ length: 24 }, (_, i) => i)

/** An embedded database on its own socket, for several clients at once. */
const served = (maxConnections = 20) =>
  Effect.gen(function*() {
    return yield* startEmbeddedPostgres({
      dataDir: Option.none(),
      maxConnections,
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

/** A start-up message: protocol 3.0, user and database postgres. */
const startup = Buffer.from("\0\0\0\0\0\x03\0\0user\0postgres\0database\0postgres\0\0", "latin1")
startup.writeInt32BE(startup.length, 0)

interface RawClient {
  /** Runs `text` as a simple query: the session's status after it (I idle, T in a transaction, E failed one). */
  readonly query: (text: string) => Effect.Effect<string>
  /** Hangs up without a word, as a process killed mid-transaction does. */
  readonly vanish: Effect.Effect<void>
}

/** A client speaking the protocol itself, logged in; fails with the SQLSTATE of an error the server answers with. */
const rawClient = (path: string) =>
  Effect.acquireRelease(
    Effect.callback<RawClient, string>((resume) => {
      const socket = connect(path, () => socket.write(startup))
      const waiting: Array<(status: string) => void> = []
      const client: RawClient = {
        query: (text) =>
          Effect.callback<string>((answered) => {
            waiting.push((status) => answered(Effect.succeed(status)))
            socket.write(protocolMessage("Q", Buffer.from(`${text}\0`)))
          }),
        vanish: Effect.sync(() => void socket.destroy())
      }
      let loggedIn = false
      let received = Buffer.alloc(0)
      socket.on("data", (chunk: Buffer) => {
        received = Buffer.concat([received, chunk])
        while (received.length >= 5 && received.length >= 1 + received.readInt32BE(1)) {
          const length = 1 + received.readInt32BE(1)
          const type = String.fromCharCode(received[0]!)
          const body = received.subarray(5, length)
          received = received.subarray(length)
          if (type === "E" && !loggedIn) {
            const code = body.toString("latin1").split("\0").find((field) => field.startsWith("C"))
            resume(Effect.fail(code?.slice(1) ?? "no code"))
          } else if (type === "Z" && !loggedIn) {
            loggedIn = true
            resume(Effect.succeed(client))
          } else if (type === "Z") waiting.shift()?.(String.fromCharCode(body[0]!))
        }
      })
      socket.on("error", (error) => resume(Effect.die(error)))
    }),
    (client) => client.vanish
  )

describe("the embedded database's server", () => {
  it.live(
    "keeps each connection's statements whole while three clients of four connections each query at once",
    () =>
      Effect.gen(function*() {
        const path = yield* served()
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
        const path = yield* served()
        const sql = yield* client(path)
        yield* sql`CREATE TABLE left_behind (n int)`
        const vanishing = yield* rawClient(path)
        assert.strictEqual(yield* vanishing.query("BEGIN; INSERT INTO left_behind VALUES (1)"), "T")
        yield* vanishing.vanish
        const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM left_behind`
        assert.deepStrictEqual(rows, [{ n: 0 }])
        yield* sql`INSERT INTO left_behind VALUES (2)`
        assert.deepStrictEqual(yield* sql<{ n: number }>`SELECT n FROM left_behind`, [{ n: 2 }])
      }).pipe(Effect.scoped, Effect.timeout("30 seconds")),
    60_000
  )

  it.live(
    "makes the others wait while a connection is inside a transaction, and serves them once it ends",
    () =>
      Effect.gen(function*() {
        const path = yield* served()
        const sql = yield* client(path)
        yield* sql`CREATE TABLE held (n int)`
        const holder = yield* rawClient(path)
        assert.strictEqual(yield* holder.query("BEGIN; INSERT INTO held VALUES (1)"), "T")
        const waiting = yield* Effect.forkScoped(sql<{ n: number }>`SELECT count(*)::int AS n FROM held`)
        yield* Effect.sleep("300 millis")
        assert.isUndefined(waiting.pollUnsafe(), "another connection's statement ran inside the transaction")
        assert.strictEqual(yield* holder.query("COMMIT"), "I")
        assert.deepStrictEqual(yield* Fiber.join(waiting), [{ n: 1 }])
      }).pipe(Effect.scoped, Effect.timeout("30 seconds")),
    60_000
  )

  it.live(
    "refuses a connection past its limit with too_many_connections",
    () =>
      Effect.gen(function*() {
        const path = yield* served(1)
        yield* rawClient(path)
        assert.strictEqual(yield* Effect.flip(rawClient(path)), "53300")
      }).pipe(Effect.scoped, Effect.timeout("30 seconds")),
    60_000
  )

  it.live(
    "cuts off a client whose message lengths make no sense, and serves the others",
    () =>
      Effect.gen(function*() {
        const path = yield* served()
        const sql = yield* client(path)
        for (
          // a start-up message shorter than its own header; a query, after a sound start-up, whose length is -1
          const garbage of [
            Buffer.from([0, 0, 0, 4, 0, 3, 0, 0]),
            Buffer.concat([startup, Buffer.from("Q\xff\xff\xff\xff", "latin1")])
          ]
        ) {
          const closed = yield* Effect.callback<boolean>((resume) => {
            const socket = connect(path, () => socket.write(garbage))
            socket.on("close", () => resume(Effect.succeed(true)))
            socket.on("error", () => {})
          })
          assert.isTrue(closed)
        }
        assert.deepStrictEqual(yield* sql<{ one: number }>`SELECT 1 AS one`, [{ one: 1 }])
      }).pipe(Effect.scoped, Effect.timeout("30 seconds")),
    60_000
  )
})

import type { PGlite } from "@electric-sql/pglite"
import { createServer, type Server, type Socket } from "node:net"

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const PROTOCOL_3 = 196608
const TERMINATE = 0x58
const READY_FOR_QUERY = 0x5a
const IDLE = 0x49
/** Sync, Query, Flush, CopyDone, CopyFail: after these a client waits for the server's answer. */
const turnEnds = new Set([0x53, 0x51, 0x48, 0x63, 0x66])

/** A typed protocol message: its type, its length, its body. */
export const protocolMessage = (type: string, body: Buffer): Buffer => {
  const bytes = Buffer.alloc(5 + body.length)
  bytes.write(type, 0, "latin1")
  bytes.writeInt32BE(4 + body.length, 1)
  body.copy(bytes, 5)
  return bytes
}
const cString = (text: string) => Buffer.from(`${text}\0`)

/** Ends whatever the session was doing for a connection that went away: its protocol exchange, then its transaction. */
const reset = Buffer.concat([protocolMessage("S", Buffer.alloc(0)), protocolMessage("Q", cString("ROLLBACK"))])

const tooManyConnections = protocolMessage(
  "E",
  Buffer.concat([cString("SFATAL"), cString("C53300"), cString("Mtoo many connections"), Buffer.from([0])])
)

/** Whether an answer leaves the session idle: it ends with ReadyForQuery, outside any transaction. */
const leavesIdle = (answer: Uint8Array) => {
  let at = 0
  let last = -1
  while (at + 5 <= answer.length) {
    last = at
    at += 1 + ((answer[at + 1]! << 24) | (answer[at + 2]! << 16) | (answer[at + 3]! << 8) | answer[at + 4]!)
  }
  return last >= 0 && answer[last] === READY_FOR_QUERY && answer[last + 5] === IDLE
}

export interface PgliteWire {
  /** Not listening yet: `server.listen` on a socket path or a TCP address. */
  readonly server: Server
  /** Stops listening and cuts every connection. */
  readonly close: () => Promise<void>
}

interface Connection {
  readonly socket: Socket
  received: Buffer
  /** The messages read since the last turn ended. */
  unsent: Array<Buffer>
  started: boolean
}

interface Turn {
  readonly connection: Connection
  readonly messages: Uint8Array
}

/**
 * Serves one PGlite to PostgreSQL clients. PGlite runs a single session, so connections take turns on it: a turn is
 * what a client sends up to the point where it waits for an answer (a Sync, a simple Query, a Flush), and a turn is
 * never cut by another connection's. A connection that leaves the session mid-exchange or inside a transaction keeps
 * it: the others wait until it is idle again. A connection that goes away has its exchange and transaction ended.
 * pglite-socket passed messages one at a time, so one connection's statements ran between another's Bind and
 * Execute (electric-sql/pglite#1046).
 */
export const makePgliteWire = (db: PGlite, maxConnections: number): PgliteWire => {
  /** The connections still open. */
  const connections = new Set<Connection>()
  const turns: Array<Turn> = []
  let owner: Connection | undefined
  let running = false

  /** Runs `work` on the session, alone; the next turn is taken once it is done. */
  const exclusively = (work: () => Promise<unknown>) => {
    running = true
    void work().finally(() => {
      running = false
      runNext()
    })
  }

  const runNext = (): void => {
    if (running) return
    const index = owner === undefined ? 0 : turns.findIndex((turn) => turn.connection === owner)
    if (index === -1 || index >= turns.length) return
    const { connection, messages } = turns.splice(index, 1)[0]!
    exclusively(() =>
      db.runExclusive(() => db.execProtocolRaw(messages)).then(
        (answer) => {
          owner = leavesIdle(answer) ? undefined : connection
          if (!connections.has(connection)) return endSession(connection)
          if (answer.length > 0) connection.socket.write(answer)
        },
        () => {
          owner = connection
          connection.socket.destroy()
          return endSession(connection)
        }
      )
    )
  }

  /** Ends the exchange and the transaction `connection` left the session in, if it holds the session. */
  const endSession = (connection: Connection): Promise<void> =>
    owner !== connection
      ? Promise.resolve()
      : db.runExclusive(() => db.execProtocolRaw(reset)).then(() => {}, () => {}).finally(() => {
        owner = undefined
      })

  const close = (connection: Connection) => {
    if (!connections.delete(connection)) return
    for (let i = turns.length - 1; i >= 0; i--) if (turns[i]!.connection === connection) turns.splice(i, 1)
    // a turn of its own that is running ends its session when it is done
    if (!running && owner === connection) exclusively(() => endSession(connection))
  }

  const submit = (connection: Connection, messages: Buffer) => {
    turns.push({ connection, messages: new Uint8Array(messages.buffer, messages.byteOffset, messages.length) })
    runNext()
  }

  /** A client that does not speak the protocol: cut off. */
  const refuse = (connection: Connection) => {
    connection.socket.destroy()
    close(connection)
  }

  /** Takes the whole messages received so far: the start-up exchange, then typed messages grouped into turns. */
  const read = (connection: Connection) => {
    for (;;) {
      const received = connection.received
      if (!connection.started) {
        if (received.length < 8) return
        const length = received.readInt32BE(0)
        if (length < 8) return refuse(connection)
        if (received.length < length) return
        const code = received.readInt32BE(4)
        connection.received = received.subarray(length)
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) connection.socket.write("N")
        else if (code === CANCEL_REQUEST) connection.socket.end()
        else if (code === PROTOCOL_3) {
          connection.started = true
          submit(connection, received.subarray(0, length))
        } else return refuse(connection)
        continue
      }
      if (received.length < 5) return
      const length = 1 + received.readInt32BE(1)
      if (length < 5) return refuse(connection)
      if (received.length < length) return
      const type = received[0]!
      connection.received = received.subarray(length)
      if (type === TERMINATE) {
        connection.socket.end()
        return close(connection)
      }
      connection.unsent.push(received.subarray(0, length))
      if (turnEnds.has(type)) {
        submit(connection, Buffer.concat(connection.unsent))
        connection.unsent = []
      }
    }
  }

  const server = createServer((socket) => {
    if (connections.size >= maxConnections) return void socket.end(tooManyConnections)
    const connection: Connection = { socket, received: Buffer.alloc(0), unsent: [], started: false }
    connections.add(connection)
    socket.setNoDelay(true)
    socket.on("data", (chunk: Buffer) => {
      if (!connections.has(connection)) return
      connection.received = connection.received.length === 0 ? chunk : Buffer.concat([connection.received, chunk])
      read(connection)
    })
    socket.on("error", () => close(connection))
    socket.on("close", () => close(connection))
  })
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const connection of connections) connection.socket.destroy()
      })
  }
}

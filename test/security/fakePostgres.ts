import { Effect } from "effect"
import { createServer, type Server, type Socket } from "node:net"

export interface FakePostgres {
  readonly port: number
  /** Connections accepted so far. */
  readonly connections: () => number
  /** The parameters of each startup message received (user, database, application_name, statement_timeout, …). */
  readonly startups: () => ReadonlyArray<Readonly<Record<string, string>>>
  /** The passwords clients sent in answer to the cleartext request. */
  readonly passwords: () => ReadonlyArray<string>
}

/**
 * A TCP server on 127.0.0.1 posing as PostgreSQL, closed with the scope. `silent` accepts and never answers;
 * `rejecting` reads the startup message, asks for the password in cleartext, and refuses it the way PostgreSQL
 * does (`28P01`), keeping what it was sent.
 */
export const fakePostgres = (behaviour: "silent" | "rejecting") =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: Server; readonly sockets: Set<Socket>; readonly fake: FakePostgres }>(
      (resume) => {
        const sockets = new Set<Socket>()
        const startups: Array<Record<string, string>> = []
        const passwords: Array<string> = []
        let connections = 0
        const server = createServer((socket) => {
          connections++
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => socket.destroy())
          if (behaviour === "rejecting") {
            reject(socket, (startup) => startups.push(startup), (password) => passwords.push(password))
          }
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : 0
          resume(Effect.succeed({
            server,
            sockets,
            fake: { port, connections: () => connections, startups: () => startups, passwords: () => passwords }
          }))
        })
      }
    ),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
        for (const socket of sockets) socket.destroy()
      })
  ).pipe(Effect.map(({ fake }) => fake))

const reject = (
  socket: Socket,
  onStartup: (startup: Record<string, string>) => void,
  onPassword: (password: string) => void
) => {
  let buffered = Buffer.alloc(0)
  let started = false
  socket.on("data", (chunk) => {
    buffered = Buffer.concat([buffered, chunk])
    if (!started) {
      if (buffered.length < 4 || buffered.length < buffered.readInt32BE(0)) return
      const length = buffered.readInt32BE(0)
      onStartup(startupParameters(buffered.subarray(8, length)))
      buffered = buffered.subarray(length)
      started = true
      socket.write(authenticationCleartextPassword)
    }
    if (buffered.length < 5 || buffered.length < 1 + buffered.readInt32BE(1)) return
    if (buffered[0] === 0x70) onPassword(buffered.subarray(5, buffered.indexOf(0, 5)).toString("utf8"))
    socket.end(passwordAuthenticationFailed)
  })
}

const startupParameters = (body: Buffer) => {
  const fields = body.toString("utf8").split("\0")
  const parameters: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length && fields[i] !== ""; i += 2) parameters[fields[i]] = fields[i + 1]
  return parameters
}

const message = (type: string, body: Buffer) => {
  const header = Buffer.alloc(5)
  header.write(type, 0, "latin1")
  header.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}

const authenticationCleartextPassword = message("R", Buffer.from([0, 0, 0, 3]))

const passwordAuthenticationFailed = message(
  "E",
  Buffer.from(
    ["SFATAL", "VFATAL", "C28P01", "Mpassword authentication failed for user \"postgres\""].map((field) => `${field}\0`)
      .join("") + "\0",
    "utf8"
  )
)

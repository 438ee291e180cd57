import { Effect, type Scope } from "effect"
import { createServer, Socket } from "node:net"

export interface TcpProxy {
  readonly port: number
  /** Resets every open connection and every new one until `restore`: the target looks down. */
  readonly cut: Effect.Effect<void>
  readonly restore: Effect.Effect<void>
  /** Connections accepted so far, cut or not. */
  readonly accepted: () => number
}

/** A TCP proxy on 127.0.0.1 to `target`, closed with its scope. */
export const make = (target: { readonly host: string; readonly port: number }): Effect.Effect<
  TcpProxy,
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const open = new Set<Socket>()
    let down = false
    let accepted = 0
    const server = createServer((client) => {
      accepted++
      if (down) return client.resetAndDestroy()
      const upstream = new Socket()
      open.add(client).add(upstream)
      const close = () => {
        open.delete(client)
        open.delete(upstream)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", close).on("close", close)
      upstream.on("error", close).on("close", close)
      upstream.connect(target.port, target.host)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    const port = yield* Effect.acquireRelease(
      Effect.callback<number>((resume) => {
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
        })
      }),
      () =>
        Effect.callback<void>((resume) => {
          for (const socket of open) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    return {
      port,
      cut: Effect.sync(() => {
        down = true
        for (const socket of open) socket.resetAndDestroy()
        open.clear()
      }),
      restore: Effect.sync(() => {
        down = false
      }),
      accepted: () => accepted
    }
  })

/** A proxy in front of the PostgreSQL at `url`, and the URL that reaches that database through it. */
export const toDatabase = (
  url: string
): Effect.Effect<{ readonly proxy: TcpProxy; readonly url: string }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const proxied = new URL(url)
    const proxy = yield* make({ host: proxied.hostname, port: Number(proxied.port || 5432) })
    proxied.hostname = "127.0.0.1"
    proxied.port = String(proxy.port)
    return { proxy, url: proxied.toString() }
  })

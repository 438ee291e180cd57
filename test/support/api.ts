import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpClient, HttpClientRequest, HttpServer } from "effect/http"
import { connect } from "node:net"
import { ApiServer } from "../../src/Api.ts"
import { AppConfig, type AppSettings } from "../../src/config/AppConfig.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { PaymentIntake } from "../../src/payments/PaymentIntake.ts"
import { PaymentQueue } from "../../src/payments/PaymentQueue.ts"
import { PaymentRepository } from "../../src/payments/PaymentRepository.ts"

/**
 * The real API on an ephemeral port, with the real queue, an in-memory repository and no workers, so what a
 * request enqueued stays in the queue for the test to inspect. The HttpClient it provides targets that server.
 */
export const apiTestLayer = (overrides: Partial<AppSettings> = {}) =>
  ApiServer.pipe(
    Layer.provideMerge(NodeHttpServer.layerTest),
    Layer.provideMerge(PaymentIntake.layerMemory),
    Layer.provideMerge(PaymentQueue.layer),
    Layer.provideMerge(PaymentRepository.layerTest),
    Layer.provideMerge(Metrics.layerTest),
    Layer.provideMerge(AppConfig.layerTest(overrides))
  )

export interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
}

export const send = Effect.fn(function*(request: HttpClientRequest.HttpClientRequest) {
  const response = yield* HttpClient.execute(request)
  const text = yield* response.text
  return { status: response.status, headers: response.headers, text } satisfies Reply
})

export const postJson = (path: string, body: string, contentType = "application/json") =>
  send(HttpClientRequest.post(path).pipe(HttpClientRequest.bodyText(body, contentType)))

export const get = (path: string) => send(HttpClientRequest.get(path))

export const jsonOf = (reply: Reply): unknown => JSON.parse(reply.text)

/** Sends bytes exactly as given to the test server and returns the status code and body of its answer. */
export const rawRequest = (head: string, body: Uint8Array | string = "") =>
  Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const port = server.address._tag === "UnixPathAddress" ? 0 : server.address.port
    return yield* Effect.callback<Reply, Error>((resume) => {
      const socket = connect({ port, host: "127.0.0.1" })
      const chunks: Array<Buffer> = []
      socket.on("data", (chunk) => chunks.push(chunk))
      socket.on("error", (error) => resume(Effect.fail(error)))
      socket.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        const [headText = "", ...rest] = text.split("\r\n\r\n")
        const [statusLine = "", ...headerLines] = headText.split("\r\n")
        const headers: Record<string, string> = {}
        for (const line of headerLines) {
          const colon = line.indexOf(":")
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
        }
        const chunked = headers["transfer-encoding"] === "chunked"
        const rawBody = rest.join("\r\n\r\n")
        resume(Effect.succeed({
          status: Number(statusLine.split(" ")[1]),
          headers,
          text: chunked ? dechunk(rawBody) : rawBody
        }))
      })
      socket.write(head.replace(/\n/g, "\r\n") + "\r\n")
      socket.end(body)
      return Effect.sync(() => socket.destroy())
    })
  })

const dechunk = (text: string) => {
  let out = ""
  let rest = text
  for (;;) {
    const lineEnd = rest.indexOf("\r\n")
    if (lineEnd < 0) return out
    const size = parseInt(rest.slice(0, lineEnd), 16)
    if (!(size > 0)) return out
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size)
    rest = rest.slice(lineEnd + 2 + size + 2)
  }
}

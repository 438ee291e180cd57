import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { ScenarioHttp } from "../../../tools/load/ScenarioHttp.ts"
import { freePort } from "../../support/process.ts"

/** A loopback HTTP server running `handle`; its base URL. It closes, dropping its connections, with the scope. */
const serve = (handle: (request: IncomingMessage, response: ServerResponse, body: string) => void) =>
  Effect.acquireRelease(
    Effect.callback<ReturnType<typeof createServer>>((resume) => {
      const server = createServer((request, response) => {
        let body = ""
        request.setEncoding("utf8")
        request.on("data", (chunk: string) => body += chunk)
        request.on("end", () => handle(request, response, body))
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))

describe("ScenarioHttp", () => {
  it.live("sends the method, path, query, headers and body, and reads the status and the whole body", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const base = yield* serve((request, response, body) => {
        seen.push([request.method, request.url, request.headers["content-type"], request.headers["x-token"], body])
        response.writeHead(202, { "transfer-encoding": "chunked" })
        response.write("first,")
        setTimeout(() => response.end("second"), 20)
      })
      const http = yield* ScenarioHttp
      const posted = yield* http.request({
        method: "POST",
        url: `${base}/payments?x=1`,
        headers: { "x-token": "t" },
        body: `{"amount":1}`,
        timeoutMs: 5000
      })
      const got = yield* http.request({ method: "GET", url: `${base}/summary`, timeoutMs: 5000 })
      assert.strictEqual(posted.status, 202)
      assert.strictEqual(posted.body, "first,second")
      assert.isAtLeast(posted.ms, 15)
      assert.strictEqual(got.body, "first,second")
      assert.deepStrictEqual(seen, [
        ["POST", "/payments?x=1", "application/json", "t", `{"amount":1}`],
        ["GET", "/summary", undefined, undefined, ""]
      ])
    }).pipe(Effect.provide(ScenarioHttp.layer), Effect.scoped))

  it.live("answers status 0 once the timeout passes without an answer, and drops the connection", () =>
    Effect.gen(function*() {
      const dropped = yield* Deferred.make<void>()
      const base = yield* serve((request) => {
        request.socket.on("close", () => Deferred.doneUnsafe(dropped, Effect.void))
      })
      const http = yield* ScenarioHttp
      const response = yield* http.request({ method: "GET", url: `${base}/slow`, timeoutMs: 300 })
      assert.strictEqual(response.status, 0)
      assert.isAtLeast(response.ms, 290)
      assert.isBelow(response.ms, 3000)
      yield* Deferred.await(dropped).pipe(Effect.timeout("2 seconds"))
    }).pipe(Effect.provide(ScenarioHttp.layer), Effect.scoped))

  it.live("answers status 0 when nothing listens", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const http = yield* ScenarioHttp
      const response = yield* http.request({ method: "GET", url: `http://127.0.0.1:${port}/`, timeoutMs: 5000 })
      assert.strictEqual(response.status, 0)
      assert.isBelow(response.ms, 3000)
    }).pipe(Effect.provide(ScenarioHttp.layer), Effect.scoped))

  it.live("drops the connection of a request whose fiber is interrupted", () =>
    Effect.gen(function*() {
      const arrived = yield* Deferred.make<void>()
      const dropped = yield* Deferred.make<void>()
      const base = yield* serve((request) => {
        Deferred.doneUnsafe(arrived, Effect.void)
        request.socket.on("close", () => Deferred.doneUnsafe(dropped, Effect.void))
      })
      const http = yield* ScenarioHttp
      const fiber = yield* Effect.forkChild(http.request({ method: "GET", url: `${base}/`, timeoutMs: 60_000 }))
      yield* Deferred.await(arrived)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(dropped).pipe(Effect.timeout("2 seconds"))
    }).pipe(Effect.provide(ScenarioHttp.layer), Effect.scoped))
})

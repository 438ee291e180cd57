import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { resolve } from "node:path"
import { request } from "undici"
import { waitHttp } from "../../../tools/process/Processes.ts"
import { freePort, startNode } from "../../support/process.ts"

const root = resolve(import.meta.dirname, "../../..")

const emptyAnswers = [["POST", "/payments", 202], ["POST", "/purge-payments", 200], ["GET", "/x", 404]] as const

const call = (port: number, method: "GET" | "POST", path: string) =>
  Effect.tryPromise(async () => {
    const response = await request(`http://127.0.0.1:${port}${path}`, { method, body: method === "POST" ? "{}" : null })
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() }
  })

describe("the null backend and bench:cpu's Effect floor", () => {
  it.live.each(["tools/arena/NullBackend.ts", "scripts/bench/effect-floor.ts"])(
    "%s frames every answer with a Content-Length, as the service frames its 202, never chunked",
    (script) =>
      Effect.gen(function*() {
        const port = yield* freePort
        yield* startNode(resolve(root, script), { PORT: String(port) })
        yield* waitHttp(`http://127.0.0.1:${port}/payments-summary`, { watch: [], timeout: 10_000 })
        const summary = yield* call(port, "GET", "/payments-summary")
        assert.strictEqual(summary.status, 200)
        assert.deepStrictEqual(JSON.parse(summary.text), {
          default: { totalRequests: 0, totalAmount: 0 },
          fallback: { totalRequests: 0, totalAmount: 0 }
        })
        assert.strictEqual(summary.headers["content-length"], String(Buffer.byteLength(summary.text)))
        for (const [method, path, status] of emptyAnswers) {
          const answer = yield* call(port, method, path)
          assert.strictEqual(answer.status, status, `${method} ${path}`)
          assert.strictEqual(answer.headers["content-length"], "0", `${method} ${path}`)
          assert.isUndefined(answer.headers["transfer-encoding"], `${method} ${path}`)
          assert.strictEqual(answer.text, "")
        }
      }).pipe(Effect.scoped),
    { timeout: 20_000 }
  )
})

import { Context, Effect, Layer } from "effect"
import { performance } from "node:perf_hooks"
import { Agent, type Dispatcher } from "undici"

export interface ScenarioRequest {
  readonly method: "GET" | "POST" | "PUT"
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
  readonly timeoutMs: number
}

/** What came back: status 0 when the request failed or timed out, as k6 reports it. */
export interface ScenarioResponse {
  readonly status: number
  readonly ms: number
  readonly body: string
}

/** The load generator's HTTP client: one keep-alive connection per concurrent request, like k6's VUs. */
export class ScenarioHttp extends Context.Service<ScenarioHttp, {
  readonly request: (request: ScenarioRequest) => Effect.Effect<ScenarioResponse>
}>()("load/ScenarioHttp") {
  static readonly layer: Layer.Layer<ScenarioHttp> = Layer.effect(
    ScenarioHttp,
    Effect.gen(function*() {
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => new Agent({ keepAliveTimeout: 60_000, connections: null, pipelining: 1 })),
        (agent) => Effect.promise(() => agent.close())
      )
      const request = (r: ScenarioRequest) =>
        Effect.callback<ScenarioResponse>((resume) => {
          const exchange = new Exchange(resume, r.timeoutMs)
          const url = new URL(r.url)
          agent.dispatch({
            origin: url.origin,
            path: url.pathname + url.search,
            method: r.method,
            headers: r.body === undefined
              ? r.headers ?? noHeaders
              : r.headers === undefined
              ? jsonHeaders
              : { ...jsonHeaders, ...r.headers },
            body: r.body ?? null
          }, exchange)
          return Effect.sync(() => exchange.cancel())
        })
      return ScenarioHttp.of({ request })
    })
  )
}

const noHeaders = {}
const jsonHeaders = { "content-type": "application/json" }

/**
 * One request in flight, as undici's dispatch handler: the status and the body's chunks, and one timer for the
 * whole exchange, as k6's `timeout`. `request()`, with a body stream, an `AbortSignal.timeout` and an
 * `AbortSignal.any` per call, cost the generator 2.3 times the CPU per request and twice the young-generation
 * collections: pauses that every answer arriving meanwhile is timed through.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined = undefined
  private status = 0
  private chunks: Array<Buffer> | undefined = undefined
  private ended = false
  private readonly startedAt = performance.now()
  private readonly timer: ReturnType<typeof setTimeout>
  private readonly resume: (response: Effect.Effect<ScenarioResponse>) => void

  constructor(resume: (response: Effect.Effect<ScenarioResponse>) => void, timeoutMs: number) {
    this.resume = resume
    this.timer = setTimeout(timeOut, timeoutMs, this)
  }

  onRequestStart(controller: Dispatcher.DispatchController) {
    this.controller = controller
    if (this.ended) controller.abort(new Error("request ended"))
  }

  onResponseStart(_: Dispatcher.DispatchController, statusCode: number) {
    this.status = statusCode
  }

  onResponseData(_: Dispatcher.DispatchController, chunk: Buffer) {
    ;(this.chunks ??= []).push(chunk)
  }

  onResponseEnd() {
    this.end(this.status, this.chunks === undefined ? "" : Buffer.concat(this.chunks).toString())
  }

  onResponseError() {
    this.end(0, "")
  }

  /** Status 0 on a timeout, as k6 reports it; the connection is dropped. */
  timeOut() {
    if (this.end(0, "")) this.controller?.abort(new Error("request timed out"))
  }

  /** The fiber waiting for it was interrupted: nothing to answer, the connection is dropped. */
  cancel() {
    if (this.settle()) this.controller?.abort(new Error("request interrupted"))
  }

  private end(status: number, body: string) {
    if (!this.settle()) return false
    this.resume(Effect.succeed({ status, ms: performance.now() - this.startedAt, body }))
    return true
  }

  /** Marks the exchange ended and withdraws its timer; false when it had ended already. */
  private settle() {
    if (this.ended) return false
    this.ended = true
    clearTimeout(this.timer)
    return true
  }
}

const timeOut = (exchange: Exchange) => exchange.timeOut()

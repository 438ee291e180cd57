import { Context, Effect, Layer } from "effect"
import { performance } from "node:perf_hooks"
import { Agent } from "undici"

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
        Effect.promise((signal) => {
          const url = new URL(r.url)
          const timeout = AbortSignal.timeout(r.timeoutMs)
          const started = performance.now()
          const headers = r.body === undefined ? { ...r.headers } : { "content-type": "application/json", ...r.headers }
          return agent.request({
            origin: url.origin,
            path: url.pathname + url.search,
            method: r.method,
            headers,
            body: r.body ?? null,
            signal: AbortSignal.any([signal, timeout])
          }).then(
            (response) =>
              response.body.text().then((body) => ({
                status: response.statusCode,
                ms: performance.now() - started,
                body
              })),
            () => undefined
          ).then(
            (response): ScenarioResponse => response ?? { status: 0, ms: performance.now() - started, body: "" },
            (): ScenarioResponse => ({ status: 0, ms: performance.now() - started, body: "" })
          )
        })
      return ScenarioHttp.of({ request })
    })
  )
}

/**
 * The least a correct forwarder does, in plain Node: the CPU baseline `pnpm bench:cpu` compares the service with.
 * POST /payments answers 202 and queues the payment in memory; a few workers forward it to the default processor,
 * else the fallback, else retry later; successes are counted in memory for GET /payments-summary.
 * Run as `PORT=9999 PAYMENT_PROCESSOR_URL_DEFAULT=... PAYMENT_PROCESSOR_URL_FALLBACK=... node scripts/bench/reference.ts`.
 * REFERENCE_WORKERS (default 16, what `pnpm bench:cpu` measures) sets the workers and each pool's connections: the
 * arena's final needs about 400 to keep up while a processor answers in a second or more.
 */
// Workers take one payment at a time and retry it in turn: awaiting in loops is the point.
/* oxlint-disable no-await-in-loop */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import { Pool } from "undici"

const workers = Number(process.env.REFERENCE_WORKERS ?? 16)
if (!(Number.isInteger(workers) && workers > 0)) throw new Error(`REFERENCE_WORKERS must be a positive integer`)
const retryDelayMs = 100
const bodyLimit = 4096

type Processor = "default" | "fallback"

interface Job {
  readonly correlationId: string
  readonly amount: number
}

interface Recorded {
  readonly at: number
  readonly cents: number
}

const pools: Record<Processor, Pool> = {
  default: newPool(process.env.PAYMENT_PROCESSOR_URL_DEFAULT ?? "http://localhost:8001"),
  fallback: newPool(process.env.PAYMENT_PROCESSOR_URL_FALLBACK ?? "http://localhost:8002")
}
const recorded: Record<Processor, Array<Recorded>> = { default: [], fallback: [] }

function newPool(url: string) {
  return new Pool(url, { connections: workers, headersTimeout: 10_000, bodyTimeout: 10_000 })
}

// == queue and workers

let queue: Array<Job> = []
const idle: Array<() => void> = []

const enqueue = (job: Job) => {
  queue.push(job)
  idle.pop()?.()
}

const take = async (): Promise<Job> => {
  let job = queue.shift()
  while (job === undefined) {
    await new Promise<void>((resolve) => idle.push(resolve))
    job = queue.shift()
  }
  return job
}

/** True when the processor has the payment (200, or 422: it had it already) or will never take it (other 4xx). */
const forward = async (processor: Processor, job: Job): Promise<boolean> => {
  const requestedAt = new Date()
  try {
    const { statusCode, body } = await pools[processor].request({
      method: "POST",
      path: "/payments",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...job, requestedAt: requestedAt.toISOString() })
    })
    await body.dump()
    if (statusCode === 200 || statusCode === 422) {
      recorded[processor].push({ at: requestedAt.getTime(), cents: Math.round(job.amount * 100) })
      return true
    }
    return statusCode >= 400 && statusCode < 500 && statusCode !== 429
  } catch {
    return false
  }
}

const work = async () => {
  for (;;) {
    const job = await take()
    while (!(await forward("default", job)) && !(await forward("fallback", job))) await sleep(retryDelayMs)
  }
}

// == HTTP

const readBody = (request: IncomingMessage) =>
  new Promise<string | undefined>((resolve) => {
    let text = ""
    request.setEncoding("utf8")
    request.on("data", (chunk: string) => {
      text += chunk
      if (text.length > bodyLimit) {
        request.destroy()
        resolve(undefined)
      }
    })
    request.on("end", () => resolve(text))
    request.on("error", () => resolve(undefined))
  })

const parsePayment = (text: string): Job | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== "object" || value === null) return undefined
    const { amount, correlationId } = value as Record<string, unknown>
    return typeof correlationId === "string" && typeof amount === "number" && Number.isFinite(amount)
      ? { correlationId, amount }
      : undefined
  } catch {
    return undefined
  }
}

const summarize = (from: number, to: number) => {
  const total = (processor: Processor) => {
    let totalRequests = 0
    let cents = 0
    for (const payment of recorded[processor]) {
      if (payment.at >= from && payment.at <= to) {
        totalRequests++
        cents += payment.cents
      }
    }
    return { totalRequests, totalAmount: cents / 100 }
  }
  return { default: total("default"), fallback: total("fallback") }
}

const bound = (value: string | null, fallback: number) => value === null || value === "" ? fallback : Date.parse(value)

const handle = async (request: IncomingMessage, response: ServerResponse) => {
  const url = new URL(request.url ?? "/", "http://localhost")
  if (request.method === "POST" && url.pathname === "/payments") {
    const text = await readBody(request)
    const job = text === undefined ? undefined : parsePayment(text)
    if (job === undefined) return response.writeHead(400, { "content-length": "0" }).end()
    response.writeHead(202, { "content-length": "0" }).end()
    return enqueue(job)
  }
  request.resume()
  if (request.method === "GET" && url.pathname === "/payments-summary") {
    const from = bound(url.searchParams.get("from"), -Infinity)
    const to = bound(url.searchParams.get("to"), Infinity)
    if (Number.isNaN(from) || Number.isNaN(to)) return response.writeHead(400, { "content-length": "0" }).end()
    const body = JSON.stringify(summarize(from, to))
    return response.writeHead(200, { "content-type": "application/json" }).end(body)
  }
  if (request.method === "POST" && url.pathname === "/purge-payments") {
    queue = []
    recorded.default = []
    recorded.fallback = []
    return response.writeHead(200, { "content-length": "0" }).end()
  }
  response.writeHead(404, { "content-length": "0" }).end()
}

for (let i = 0; i < workers; i++) void work()

const server = createServer((request, response) => void handle(request, response))
server.keepAliveTimeout = 65_000
server.listen(Number(process.env.PORT ?? 9999), process.env.HOST ?? "127.0.0.1")
process.on("SIGTERM", () => process.exit(0))

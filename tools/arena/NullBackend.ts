/**
 * The arena's latency floor: a backend that does nothing. It answers POST /payments with 202 and the summary with
 * zeros, so a run against it measures only the machine, the load generator and the load balancer. Its answers are
 * framed as the service's are (a Content-Length, never chunked), so nginx relays the same bytes for either.
 * Run as `PORT=9999 node tools/arena/NullBackend.ts`.
 */
import { createServer } from "node:http"

const emptySummary = JSON.stringify({
  default: { totalRequests: 0, totalAmount: 0 },
  fallback: { totalRequests: 0, totalAmount: 0 }
})
const empty = { "content-length": "0" }

const server = createServer((request, response) => {
  request.resume()
  request.on("end", () => {
    const path = (request.url ?? "/").split("?", 1)[0]
    if (request.method === "POST" && path === "/payments") {
      response.writeHead(202, empty).end()
    } else if (request.method === "GET" && path === "/payments-summary") {
      response.writeHead(200, {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(emptySummary))
      }).end(emptySummary)
    } else if (request.method === "POST" && path === "/purge-payments") {
      response.writeHead(200, empty).end()
    } else {
      response.writeHead(404, empty).end()
    }
  })
})
server.keepAliveTimeout = 65_000
server.listen(Number(process.env.PORT ?? 9999), process.env.HOST ?? "127.0.0.1")
process.on("SIGTERM", () => server.close(() => process.exit(0)))

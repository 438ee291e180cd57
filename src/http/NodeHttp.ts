import { NodeHttpServerRequest } from "@effect/platform-node"
import type { HttpServerRequest } from "effect/http"
import type * as Http from "node:http"

/**
 * node:http taken without an ES module import: Node builds an ES module's namespace by reading every export, and
 * three of node:http's (`WebSocket`, `CloseEvent`, `MessageEvent`) are getters that load Node's bundled fetch and
 * WebSocket client, which this service never uses: ~2.5 MB of heap and ~14 MB of RSS at start.
 */
// oxlint-disable-next-line no-restricted-globals
export const { createServer, IncomingMessage } = process.getBuiltinModule("node:http")
export type IncomingMessage = Http.IncomingMessage

/** The Node request behind a platform request, if there is one. */
export const nodeRequest = (request: HttpServerRequest.HttpServerRequest): IncomingMessage | undefined => {
  const source: unknown = NodeHttpServerRequest.toIncomingMessage(request)
  return source instanceof IncomingMessage ? source : undefined
}

/**
 * The request's header `name` (lower case). Read from the Node request behind it where there is one: the platform's
 * `request.headers` copies every header into a new object the first time it is read, for a few lookups per payment.
 */
export const requestHeader = (request: HttpServerRequest.HttpServerRequest, name: string): string | undefined => {
  const source = nodeRequest(request)
  if (source === undefined) return request.headers[name]
  const value = source.headers[name]
  return Array.isArray(value) ? value.join(", ") : value
}

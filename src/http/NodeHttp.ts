import type * as Http from "node:http"

/**
 * node:http taken without an ES module import: Node builds an ES module's namespace by reading every export, and
 * three of node:http's (`WebSocket`, `CloseEvent`, `MessageEvent`) are getters that load Node's bundled fetch and
 * WebSocket client, which this service never uses: ~2.5 MB of heap and ~14 MB of RSS at start.
 */
// oxlint-disable-next-line no-restricted-globals
export const { createServer, IncomingMessage } = process.getBuiltinModule("node:http")
export type IncomingMessage = Http.IncomingMessage

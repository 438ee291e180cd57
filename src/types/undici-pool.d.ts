// undici's index loads every part of undici (fetch, WebSocket, cache, HTTP/2, ...): ~7 MB of heap and ~7 MB of the
// Node binary's pages in each instance. The gateway needs only the Pool, which undici (no "exports" map) lets a
// program require from its own file; the type is the package's.
declare module "undici/lib/dispatcher/pool.js" {
  import type { Pool } from "undici"
  const PoolClass: typeof Pool
  export default PoolClass
}

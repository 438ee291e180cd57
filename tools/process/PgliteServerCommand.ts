/**
 * How to start `tools/process/PgliteServer.ts` on `port` of 127.0.0.1: the script (relative to the repository's
 * root), its arguments, and the URL it then serves. The tests, the fault matrix and the arena each spawn it their own
 * way; the command line and the URL are these.
 */
export const pgliteServerCommand = (port: number, maxConnections: number) => ({
  script: "tools/process/PgliteServer.ts",
  args: ["--port", String(port), "--host", "127.0.0.1", "--max-connections", String(maxConnections)],
  url: `postgres://postgres@127.0.0.1:${port}/postgres`
})

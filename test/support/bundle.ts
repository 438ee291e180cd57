/**
 * Vitest global setup of the tests that need the bundle: builds `dist/` once with `scripts/build.ts`, as CI does,
 * unless it was built from the sources as they are now (the digest the build writes beside it).
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { staleBundle } from "../../scripts/build-inputs.ts"

const root = join(import.meta.dirname, "..", "..")

export const setup = () => {
  if (staleBundle(root) === undefined) return
  const build = spawnSync(process.execPath, ["scripts/build.ts"], { cwd: root, stdio: "inherit" })
  if (build.status !== 0) throw new Error(`scripts/build.ts exited ${build.status ?? build.signal}`)
}

import { Effect } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

/**
 * A new folder in the system's temporary folder, its name starting with `prefix`; it is removed, with everything in
 * it, when the scope closes.
 */
export const scratchFolder = (prefix: string) =>
  Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), prefix))),
    (folder) => Effect.promise(() => rm(folder, { recursive: true, force: true }))
  )

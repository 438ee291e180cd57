/**
 * Vitest global setup of the tests that need the bundle: builds `dist/` once with `scripts/build.ts`, as CI does,
 * unless `dist/main.js` is newer than every file it is built from.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..")
const bundle = join(root, "dist/main.js")

const builtFrom = (): ReadonlyArray<string> => [
  ...["src", "migrations"].flatMap((folder) =>
    readdirSync(join(root, folder), { recursive: true, encoding: "utf8" }).map((file) => join(root, folder, file))
  ),
  join(root, "scripts/build.ts"),
  join(root, "package.json")
]

const isFresh = () => {
  if (!existsSync(bundle)) return false
  const builtAt = statSync(bundle).mtimeMs
  return builtFrom().every((file) => statSync(file).mtimeMs < builtAt)
}

export const setup = () => {
  if (isFresh()) return
  const build = spawnSync(process.execPath, ["scripts/build.ts"], { cwd: root, stdio: "inherit" })
  if (build.status !== 0) throw new Error(`scripts/build.ts exited ${build.status ?? build.signal}`)
}

/**
 * What `dist/` is built from, and a digest of it that `scripts/build.ts` writes beside the bundle: whatever runs
 * the bundle without building it first (the arena's and the benchmark's `--no-build`, the tests' global setup)
 * can tell whether it was built from the sources as they are now. Modification times cannot: a `git checkout` or
 * a copy moves them either way.
 */
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"

const inputFolders = ["src", "migrations"]
const inputFiles = [
  "scripts/build.ts",
  "scripts/build-inputs.ts",
  "scripts/builtins-plugin.ts",
  "package.json",
  "pnpm-lock.yaml",
  "tsconfig.json"
]

/** Where the build writes the digest of its inputs. */
export const digestPath = (root: string) => join(root, "dist", "inputs.sha256")

/** The files the bundle is built from, relative to `root`, in a fixed order. */
export const inputsOf = (root: string): ReadonlyArray<string> =>
  [
    ...inputFolders.flatMap((folder) =>
      readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    ),
    ...inputFiles.filter((file) => existsSync(join(root, file)))
  ].sort()

/** SHA-256 over every input's path and content. */
export const inputsDigest = (root: string): string => {
  const hash = createHash("sha256")
  for (const file of inputsOf(root)) {
    hash.update(`${file}\0`)
    hash.update(readFileSync(join(root, file)))
    hash.update("\0")
  }
  return hash.digest("hex")
}

/** Why `dist/` may not be run as the sources are now, or undefined when it was built from them. */
export const staleBundle = (root: string): string | undefined => {
  if (!existsSync(join(root, "dist", "main.js"))) return "dist/main.js does not exist"
  const path = digestPath(root)
  if (!existsSync(path)) return "dist/ holds no digest of its inputs (it was built by an older scripts/build.ts)"
  return readFileSync(path, "utf8").trim() === inputsDigest(root)
    ? undefined
    : "dist/ was built from other sources than those in the tree now"
}

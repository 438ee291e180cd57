/**
 * `node scripts/import-graph.ts [DIR]`: the folder-level import graph of DIR (default `src`), then every folder
 * pair importing each other and every file-level import cycle; exits 1 when there is any.
 */
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, normalize, relative, sep } from "node:path"

export interface ImportGraph {
  /** Relative imports, file to file, paths as given under the root. */
  readonly files: ReadonlyMap<string, ReadonlyArray<string>>
  /**
   * Imports between the root's top-level folders (`.` for files at the top; `../x` for a folder beside the root),
   * with how many each.
   */
  readonly folders: ReadonlyMap<string, ReadonlyMap<string, number>>
}

const importPattern = /(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g

export const importGraph = (root: string): ImportGraph => {
  const sources = readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => join(root, file))
  const folderOf = (file: string) => {
    const path = relative(root, file)
    return path.includes(sep) ? path.split(sep)[0] ?? "." : "."
  }
  const files = new Map<string, Array<string>>()
  const folders = new Map<string, Map<string, number>>()
  for (const file of sources) {
    const targets = [...readFileSync(file, "utf8").matchAll(importPattern)]
      .map((match) => normalize(join(dirname(file), match[1] ?? "")))
    files.set(file, targets)
    for (const target of targets) {
      const from = folderOf(file)
      const outside = relative(root, target).startsWith("..")
      const to = outside ? `../${relative(dirname(root), target).split(sep)[0]}` : folderOf(target)
      if (from === to) continue
      const counts = folders.get(from) ?? new Map<string, number>()
      counts.set(to, (counts.get(to) ?? 0) + 1)
      folders.set(from, counts)
    }
  }
  return { files, folders }
}

/** Folder pairs that import each other, each once. */
export const mutualFolders = (graph: ImportGraph): ReadonlyArray<readonly [string, string]> =>
  [...graph.folders].flatMap(([from, targets]) =>
    [...targets.keys()]
      .filter((to) => from < to && graph.folders.get(to)?.has(from) === true)
      .map((to) => [from, to] as const)
  )

/** File-level import cycles, each as the path that closes it. */
export const importCycles = (graph: ImportGraph): ReadonlyArray<ReadonlyArray<string>> => {
  const cycles: Array<ReadonlyArray<string>> = []
  const done = new Set<string>()
  const path: Array<string> = []
  const visit = (file: string) => {
    path.push(file)
    for (const target of graph.files.get(file) ?? []) {
      const at = path.indexOf(target)
      if (at !== -1) cycles.push([...path.slice(at), target])
      else if (!done.has(target)) visit(target)
    }
    path.pop()
    done.add(file)
  }
  for (const file of graph.files.keys()) if (!done.has(file)) visit(file)
  return cycles
}

if (import.meta.main) {
  const graph = importGraph(process.argv[2] ?? "src")
  for (const [from, targets] of [...graph.folders].sort(([a], [b]) => a.localeCompare(b))) {
    const list = [...targets].sort(([a], [b]) => a.localeCompare(b)).map(([to, n]) => `${to} (${n})`)
    console.log(`${from} -> ${list.join(", ")}`)
  }
  const pairs = mutualFolders(graph)
  const cycles = importCycles(graph)
  for (const [a, b] of pairs) console.log(`folders importing each other: ${a} <-> ${b}`)
  for (const cycle of cycles) console.log(`import cycle: ${cycle.join(" -> ")}`)
  if (pairs.length > 0 || cycles.length > 0) process.exitCode = 1
}

import { Effect } from "effect"
import { execFile } from "node:child_process"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..")

/** Imports `specifiers` in a fresh Node and answers whether Node's bundled undici (its fetch and WebSocket) loaded. */
export const loadsBundledUndici = (specifiers: ReadonlyArray<string>) =>
  Effect.promise(() =>
    new Promise<boolean>((resolve, reject) => {
      const script = `for (const specifier of ${JSON.stringify(specifiers)}) await import(specifier)
console.log(process.moduleLoadList.includes("NativeModule internal/deps/undici/undici"))`
      execFile(process.execPath, ["--input-type=module", "-e", script], { cwd: root }, (error, stdout, stderr) => {
        if (error === null) resolve(stdout.trim().split("\n").at(-1) === "true")
        else reject(new Error(`${error.message}\n${stderr}`))
      })
    })
  )

/** The specifiers of a bundle's top-level static `import … from "…"` statements. */
export const staticImports = (code: string): Array<string> =>
  [...code.matchAll(/^import\s[^;]*?from\s*["']([^"']+)["']/gm)].map((match) => match[1] ?? "")

import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { isBuiltin } from "node:module"
import { join } from "node:path"
import { root } from "./support.ts"

describe("dist/", () => {
  it("imports no Node builtin as an ES module but node:module (the banner's require)", () => {
    const dist = join(root, "dist")
    const chunks = readdirSync(dist).filter((file) => file.endsWith(".js"))
    assert.isNotEmpty(chunks)
    const builtins = chunks.flatMap((file) =>
      [...readFileSync(join(dist, file), "utf8").matchAll(/^import\s[^;]*?from\s*["']([^"']+)["']/gm)]
        .map((match) => `${file}: ${match[1] ?? ""}`)
        .filter((found) => {
          const specifier = found.slice(found.indexOf(": ") + 2)
          return isBuiltin(specifier) && specifier !== "node:module"
        })
    )
    assert.deepStrictEqual(builtins, [])
  })
})

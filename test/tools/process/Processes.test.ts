import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { readFileSync } from "node:fs"
import { drawnPorts, freePort, portSlice } from "../../../tools/process/Processes.ts"

describe("freePort", () => {
  const ephemeral = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0])
  const range = { from: 10_000, to: ephemeral - 1 }

  it("gives the workers running at once disjoint slices of the range below the kernel's, and the whole of it outside Vitest", () => {
    const slices = Array.from({ length: 16 }, (_, index) => portSlice(range, index + 1))
    for (const [index, slice] of slices.entries()) {
      assert.isAtLeast(slice.from, range.from)
      assert.isAtMost(slice.to, range.to)
      assert.isAbove(slice.to - slice.from, 1_000)
      const next = slices[index + 1]
      if (next !== undefined) assert.isBelow(slice.to, next.from)
    }
    assert.deepStrictEqual(drawnPorts(Option.none()), range, "outside Vitest, the whole range")
  })

  it.effect("never hands out a port twice in one process, and only ports of this worker's slice", () =>
    Effect.gen(function*() {
      const ports = yield* Effect.forEach(Array.from({ length: 400 }), () => freePort)
      assert.strictEqual(new Set(ports).size, ports.length)
      const slice = drawnPorts(Option.some(Number(process.env.VITEST_POOL_ID))) ?? { from: 0, to: 0 }
      assert.isBelow(slice.to - slice.from, 2_000, "a slice, not the whole range")
      for (const port of ports) {
        assert.isAtLeast(port, slice.from)
        assert.isAtMost(port, slice.to)
      }
    }))
})

import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { CorrelationIdSet } from "../../src/payments/CorrelationIdSet.ts"

const nil = "00000000-0000-0000-0000-000000000000"

// mostly UUIDs as clients send them, and the spellings the compact table must leave to strings
const ids = fc.oneof(
  { arbitrary: fc.uuid().map((id) => id.toLowerCase()), weight: 8 },
  { arbitrary: fc.uuid().map((id) => id.toUpperCase()), weight: 1 },
  { arbitrary: fc.constantFrom(nil, "", "not-a-uuid", `${nil.slice(0, 35)}g`, nil.replaceAll("-", "0")), weight: 1 }
)

describe("CorrelationIdSet", () => {
  it("answers as a Set of strings does, across growth and clears", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ arbitrary: ids, weight: 20 }, { arbitrary: fc.constant(undefined), weight: 1 }), {
          maxLength: 3000
        }),
        (steps) => {
          const set = new CorrelationIdSet()
          const reference = new Set<string>()
          const added: Array<string> = []
          for (const id of steps) {
            if (id === undefined) {
              set.clear()
              reference.clear()
              continue
            }
            assert.strictEqual(set.has(id), reference.has(id), `has ${id} before adding it`)
            set.add(id)
            reference.add(id)
            added.push(id)
            assert.isTrue(set.has(id), `has ${id} once added`)
            assert.strictEqual(set.size, reference.size)
          }
          for (const id of added) assert.strictEqual(set.has(id), reference.has(id), `has ${id} at the end`)
        }
      ),
      { numRuns: 50 }
    )
  })

  it("keeps every id through many growths, and tells apart ids that differ in one digit or in case", () => {
    const set = new CorrelationIdSet()
    const id = (n: number) => `00000001-0000-7000-8000-${n.toString(16).padStart(12, "0")}`
    for (let n = 1; n <= 20_000; n++) set.add(id(n))
    assert.strictEqual(set.size, 20_000)
    for (let n = 1; n <= 20_000; n++) assert.isTrue(set.has(id(n)), id(n))
    for (let n = 20_001; n <= 40_000; n++) assert.isFalse(set.has(id(n)), id(n))
    assert.isFalse(set.has(`00000002${id(1).slice(8)}`))
    assert.isFalse(set.has(id(10).toUpperCase()), "the uppercase spelling is another id")
    set.add(id(10).toUpperCase())
    assert.strictEqual(set.size, 20_001)
  })
})

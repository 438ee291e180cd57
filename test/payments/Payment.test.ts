import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as fc from "fast-check"
import { MAX_AMOUNT, PaymentRequest, wellFormedPayment } from "../../src/payments/Payment.ts"

const decode = Schema.decodeUnknownResult(PaymentRequest, { errors: "all", onExcessProperty: "ignore" })

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF"), minLength: length, maxLength: length })

// UUID-shaped strings whose version and variant characters range over valid and invalid ones
const uuidLike = fc.tuple(
  hex(8),
  hex(4),
  fc.constantFrom(..."0123456789aF"),
  hex(3),
  fc.constantFrom(..."0789abABcf"),
  hex(3),
  hex(12)
).map(([a, b, version, c, variant, d, e]) => `${a}-${b}-${version}${c}-${variant}${d}-${e}`)

const correlationIds = fc.oneof(
  fc.uuid(),
  fc.uuid().map((id) => id.toUpperCase()),
  uuidLike,
  fc.constantFrom(
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "FFFFFFFF-ffff-FFFF-ffff-FFFFFFFFFFFF",
    "00000000-0000-0000-0000-00000000000f",
    "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3\n",
    " 4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3",
    "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b",
    "4a7901b87d264d9daa194dc1c7cf60b3",
    ""
  ),
  fc.string(),
  fc.integer()
)

const amounts = fc.oneof(
  fc.integer({ min: -100, max: Math.round(MAX_AMOUNT * 100) + 100 }).map((cents) => cents / 100),
  fc.integer({ min: 1, max: 100_000 }).map((mills) => mills / 1000),
  fc.double(),
  fc.constantFrom(0, -0, MAX_AMOUNT, MAX_AMOUNT + 0.01, 1e13 + 0.5, 0.1 + 0.2, Number.MAX_VALUE, 5e-324),
  fc.constantFrom("19.90", null, true, [], {})
)

// what JSON.parse can give back: a payment's shape with every part varied, extra keys, and any other JSON value
const inputs = fc.oneof(
  { arbitrary: fc.record({ correlationId: correlationIds, amount: amounts }), weight: 6 },
  {
    arbitrary: fc.record({ correlationId: correlationIds, amount: amounts }, { requiredKeys: [] }),
    weight: 1
  },
  {
    arbitrary: fc.tuple(
      fc.record({ correlationId: fc.uuid(), amount: amounts }),
      fc.dictionary(fc.string(), fc.jsonValue())
    )
      .map(([payment, extra]) => ({ ...extra, ...payment })),
    weight: 1
  },
  { arbitrary: fc.jsonValue(), weight: 1 }
).map((value) => JSON.parse(JSON.stringify(value)) as unknown)

describe("wellFormedPayment", () => {
  it("accepts exactly what the PaymentRequest Schema accepts, and gives back what it decodes", () => {
    fc.assert(
      fc.property(inputs, (input) => {
        const decoded = decode(input)
        const payment = wellFormedPayment(input)
        if (Result.isSuccess(decoded)) assert.deepStrictEqual(payment, decoded.success)
        else assert.strictEqual(payment, undefined)
      }),
      { numRuns: 20_000 }
    )
  })

  it("keeps only the payment's own fields", () => {
    const input = { correlationId: "4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3", amount: 19.9, note: "extra" }
    assert.deepStrictEqual(wellFormedPayment(input), { correlationId: input.correlationId, amount: 19.9 })
  })
})

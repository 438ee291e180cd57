import { Schema } from "effect"
import type { Processor } from "../processors/Processor.ts"

export const MAX_AMOUNT = 9_999_999_999.99

// below 1e13 a hundredfold stays exact enough to round: the same answer as toFixed(2), without formatting a string
const hasAtMostTwoDecimals = (amount: number) =>
  Math.abs(amount) < 1e13 ? Math.round(amount * 100) / 100 === amount : Number(amount.toFixed(2)) === amount

export const Amount = Schema.Finite.check(
  Schema.isGreaterThan(0, { expected: "a number greater than 0" }),
  Schema.isLessThanOrEqualTo(MAX_AMOUNT, { expected: `a number at most ${MAX_AMOUNT}` }),
  Schema.makeFilter(hasAtMostTwoDecimals, { expected: "a number with at most 2 decimal places" })
)

export const CorrelationId = Schema.String.check(Schema.isUUID(undefined, { expected: "a UUID" }))

export const PaymentRequest = Schema.Struct({
  correlationId: CorrelationId,
  amount: Amount
})
export type PaymentRequest = typeof PaymentRequest.Type

// what Schema.isUUID() matches: versions 1-8 with the RFC 9562 variant, the nil UUID and the max UUID
const uuidPattern =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|0{8}-0{4}-0{4}-0{4}-0{12}|f{8}-f{4}-f{4}-f{4}-f{12})$/i

/**
 * The payment in `input` (what `JSON.parse` gave back) when `PaymentRequest` accepts it, else undefined, without
 * running the Schema's parser: what every well-formed request takes, where the parser cost 2-3 % of a payment's CPU.
 * A test holds it to the Schema's answer; the Schema still decodes what this refuses, to say why.
 */
export const wellFormedPayment = (input: unknown): PaymentRequest | undefined => {
  if (typeof input !== "object" || input === null) return undefined
  const { amount, correlationId } = input as { readonly amount?: unknown; readonly correlationId?: unknown }
  return typeof correlationId === "string" && uuidPattern.test(correlationId) &&
      typeof amount === "number" && amount > 0 && amount <= MAX_AMOUNT &&
      hasAtMostTwoDecimals(amount)
    ? { correlationId, amount }
    : undefined
}

/** Where a payment was last sent, and with which requestedAt. */
export interface Attempt {
  readonly processor: Processor
  readonly requestedAt: Date
}

export interface RecordedPayment {
  readonly correlationId: string
  readonly amount: number
  readonly processor: Processor
  readonly requestedAt: Date
  /** When the processor's answer arrived; unknown for payments recorded before it was kept. */
  readonly answeredAt?: Date
}

export interface ProcessorTotals {
  readonly totalRequests: number
  readonly totalAmount: number
}

export type PaymentsSummary = { readonly [P in Processor]: ProcessorTotals }

export interface SummaryRange {
  readonly from?: Date
  readonly to?: Date
}

export const emptyTotals: ProcessorTotals = { totalRequests: 0, totalAmount: 0 }

export const toCents = (amount: number): number => Math.round(amount * 100)

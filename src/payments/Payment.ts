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

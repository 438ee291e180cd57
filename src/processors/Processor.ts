import { Schema } from "effect"

export const Processor = Schema.Literals(["default", "fallback"])
export type Processor = typeof Processor.Type

export const processors: ReadonlyArray<Processor> = ["default", "fallback"]

/** What an instance believes about one processor right now. */
export interface ProcessorView {
  /** The processor says it fails, or it just refused a payment (5xx, 429, refused connection). */
  readonly failing: boolean
  /** Best estimate of the time it takes to answer a payment, milliseconds. */
  readonly delay: number
  /**
   * A send has been waiting longer than the last health reading and every answer since said it would: the
   * processor slowed down by an amount nobody knows until an answer or the next reading tells, so it may already
   * answer past the consistency edge.
   */
  readonly slowerThanKnown: boolean
}

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
   * Sends take longer than the last health reading said: the processor slowed down since, by an amount nobody
   * knows until the next reading, so it may already answer past the consistency edge.
   */
  readonly slowerThanPolled: boolean
}

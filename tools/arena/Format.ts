/** Numbers as the report and the scorecard print them. */
export const numberFormat = (digits: number) =>
  new Intl.NumberFormat("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
export const money = numberFormat(2).format
export const integer = numberFormat(0).format
export const ms = (value: number) => `${numberFormat(2).format(value)} ms`
export const percent = (fraction: number, digits = 0) => `${numberFormat(digits).format(fraction * 100)}%`
/** A difference with its sign always shown, its size formatted by `format`. */
export const signed = (value: number, format: (size: number) => string) =>
  `${value >= 0 ? "+" : "−"}${format(Math.abs(value))}`
export const signedMs = (value: number) => signed(value, ms)
export const share = (part: number, total: number) => total > 0 ? percent(part / total, 1) : "–"

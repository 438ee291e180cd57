/** Numbers as the report and the scorecard print them. */
export const numberFormat = (digits: number) =>
  new Intl.NumberFormat("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
export const money = numberFormat(2).format
export const integer = numberFormat(0).format
export const ms = (value: number) => `${numberFormat(2).format(value)} ms`
export const percent = (fraction: number, digits = 0) => `${numberFormat(digits).format(fraction * 100)}%`
export const signedMs = (value: number) => `${value >= 0 ? "+" : "−"}${numberFormat(2).format(Math.abs(value))} ms`
export const share = (part: number, total: number) => total > 0 ? percent(part / total, 1) : "–"

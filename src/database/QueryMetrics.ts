import { Effect, Exit, Layer, Tracer } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { Metrics } from "../observability/Metrics.ts"
import { poolSizeOf } from "./Database.ts"

/**
 * Times every SQL statement from the spans effect/sql opens for it, so no query site has to: the tracer in use
 * (the OTLP one or the built-in one) is wrapped, and a span that receives `db.system.name` is a statement. Its
 * duration, from before the pool hands it a connection to the end of the result, goes to
 * `db_query_duration_seconds`, labelled with the statement's operation and table; while it runs it counts in
 * `db_queries_in_flight`, which the dashboard sets against the pool's size.
 */
export const QueryMetricsLive = Layer.effect(
  Tracer.Tracer,
  Effect.gen(function*() {
    const inner = yield* Tracer.Tracer
    const metrics = yield* Metrics
    const { database } = yield* AppConfig
    metrics.dbPoolMax.set(poolSizeOf(database))

    return Tracer.make({
      span(options) {
        const span = inner.span(options)
        if (options.kind !== "client") return span
        let statement: string | undefined
        let query = "unknown"
        const attribute = span.attribute
        const end = span.end
        span.attribute = (key, value) => {
          if (key === "db.system.name" && statement === undefined) {
            statement = "started"
            metrics.dbInFlight.inc()
          } else if (key === "db.query.text" && typeof value === "string") {
            query = queryLabel(value)
          }
          attribute.call(span, key, value)
        }
        span.end = (endTime, exit) => {
          if (statement !== undefined) {
            metrics.dbInFlight.dec()
            metrics.dbQueryDuration.labels({ query, outcome: Exit.isSuccess(exit) ? "ok" : "error" }).observe(
              Number(endTime - options.startTime) / 1e9
            )
          }
          end.call(span, endTime, exit)
        }
        return span
      },
      ...(inner.context === undefined ? {} : { context: inner.context })
    })
  })
)

const statementPattern =
  /^\s*(insert\s+into|update|delete\s+from|truncate(?:\s+table)?|select\b[\s\S]*?\bfrom)\s+"?(\w+)/i

/** `text` with every parenthesised group emptied, so that a `from` inside one (`extract(epoch from x)`) is not seen. */
const withoutGroups = (text: string): string => {
  let flat = text
  for (let previous = ""; previous !== flat;) {
    previous = flat
    flat = flat.replace(/\([^()]*\)/g, "()")
  }
  return flat
}

/** What follows a statement's leading `WITH name AS (…), …` clauses: the statement they feed. */
const afterWith = (text: string): string | undefined => {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === "(") depth++
    else if (c === ")" && --depth === 0) {
      const rest = text.slice(i + 1).trimStart()
      if (!rest.startsWith(",")) return rest
    }
  }
  return undefined
}

/**
 * "INSERT payments", "SELECT processor_health", …: the operation and the first table, a label of few values; a
 * statement with a WITH clause is labelled by the statement the clause feeds.
 */
export const queryLabel = (text: string): string => {
  if (/^\s*with\b/i.test(text)) {
    const main = afterWith(text)
    if (main !== undefined && main !== "") return queryLabel(main)
  }
  const match = statementPattern.exec(withoutGroups(text))
  if (match === null) return /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? "unknown"
  const operation = (/^\w+/.exec(match[1])?.[0] ?? "").toUpperCase()
  return `${operation} ${match[2].toLowerCase()}`
}

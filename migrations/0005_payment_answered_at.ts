import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * When the processor's answer reached the instance: a summary counts the payments answered by the moment it was
 * asked, as the processors' own summaries read at that moment do, and not those answered while it waited.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE payments ADD COLUMN IF NOT EXISTS answered_at timestamptz`
})

import { Effect } from "effect"
import { SqlClient } from "effect/sql"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS payments (
      correlation_id uuid PRIMARY KEY,
      amount numeric(12, 2) NOT NULL CHECK (amount > 0),
      processor text NOT NULL CHECK (processor IN ('default', 'fallback')),
      requested_at timestamptz NOT NULL
    )`
  yield* sql`CREATE INDEX IF NOT EXISTS payments_requested_at_idx ON payments (requested_at)`
})

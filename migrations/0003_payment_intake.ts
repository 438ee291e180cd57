import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * Payments accepted in durable mode and not yet recorded. The instance that accepted a payment holds a claim on
 * it while it lives; a claim that expires (its instance died) lets another instance take the payment over.
 * `processor` and `requested_at` say where the last send went, so a payment taken over mid-send is settled against
 * that same processor instead of being sent elsewhere.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS payment_intake (
      correlation_id uuid PRIMARY KEY,
      amount numeric(12, 2) NOT NULL,
      accepted_at timestamptz NOT NULL DEFAULT now(),
      claimed_by text NOT NULL,
      claimed_until timestamptz NOT NULL,
      processor text CHECK (processor IN ('default', 'fallback')),
      requested_at timestamptz
    )`
  yield* sql`CREATE INDEX IF NOT EXISTS payment_intake_claimed_until_idx ON payment_intake (claimed_until)`
})

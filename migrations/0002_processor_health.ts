import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/** The processors' health as the elected poller last read it, and the lease that elects the poller. */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS processor_health (
      processor text PRIMARY KEY CHECK (processor IN ('default', 'fallback')),
      failing boolean NOT NULL DEFAULT false,
      min_response_time integer NOT NULL DEFAULT 0,
      checked_at timestamptz,
      polled_at timestamptz NOT NULL DEFAULT 'epoch'
    )`
  yield* sql`
    INSERT INTO processor_health (processor) VALUES ('default'), ('fallback')
    ON CONFLICT (processor) DO NOTHING`
  yield* sql`
    CREATE TABLE IF NOT EXISTS health_poller_lease (
      id integer PRIMARY KEY CHECK (id = 1),
      holder text,
      expires_at timestamptz NOT NULL DEFAULT 'epoch'
    )`
  yield* sql`INSERT INTO health_poller_lease (id) VALUES (1) ON CONFLICT (id) DO NOTHING`
})

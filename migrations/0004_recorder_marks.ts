import { Effect } from "effect"
import { SqlClient } from "effect/sql"

/**
 * How far each running instance's recorder has written: every payment the instance got an answer for before
 * `written_through` is in `payments`. Each instance renews its row while it lives (until `alive_until`); a summary
 * served by any instance waits for the others' rows to pass the moment it was asked.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE IF NOT EXISTS recorder_marks (
      recorder text PRIMARY KEY,
      instance text NOT NULL,
      written_through timestamptz NOT NULL,
      alive_until timestamptz NOT NULL
    )`
})

import { PGlite } from "@electric-sql/pglite"
import { Effect } from "effect"
import { saveTemplate } from "../../src/database/EmbeddedPostgres.ts"

/**
 * Saves at `templatePath` an embedded database's template holding a table initdb never makes, `from_the_template`:
 * a database that started from it has that table, one that ran initdb has not.
 */
export const saveMarkedTemplate = (templatePath: string) =>
  Effect.gen(function*() {
    const marked = yield* Effect.promise(() => PGlite.create("memory://"))
    yield* Effect.promise(() => marked.exec("CREATE TABLE from_the_template (id int)"))
    yield* saveTemplate(marked, templatePath)
    yield* Effect.promise(() => marked.close())
  })

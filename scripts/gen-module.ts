import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname, isAbsolute, join, relative, resolve } from "node:path"
import { parseArgs } from "node:util"

const usage = `Usage: pnpm gen:module <folder>/<name> [--no-test] [--root DIR]

Writes src/<folder>/<Name>.ts, a Context.Service skeleton, and test/<folder>/<Name>.test.ts.
  <folder>/<name>  lowercase letters, digits and dashes per segment, folders may nest (a/b/c);
                   the last segment becomes the PascalCase class name (payments/refund-requests -> RefundRequests)
  --no-test        write only the service
  --root DIR       generate under DIR instead of the repository root`

const folderSegment = /^[a-z0-9]+(-[a-z0-9]+)*$/
const nameSegment = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/
// identifiers the generated files use; a class with one of these names would shadow it
const reserved = new Set(["Context", "Effect", "HashMap", "Layer", "Object", "Option", "Ref", "Schema"])

function fail(code: number, message: string): never {
  process.stderr.write(`${message}\n`)
  process.exit(code)
}

const pascalCase = (segment: string) =>
  segment.split("-").map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join("")

const parse = (argv: ReadonlyArray<string>) => {
  try {
    return parseArgs({
      args: argv[0] === "--" ? argv.slice(1) : [...argv],
      allowPositionals: true,
      options: {
        "no-test": { type: "boolean", default: false },
        root: { type: "string" },
        help: { type: "boolean", short: "h", default: false }
      }
    })
  } catch (error) {
    return fail(2, `${error instanceof Error ? error.message : String(error)}\n\n${usage}`)
  }
}

const serviceSource = (name: string, tag: string) =>
  `import { Context, Effect, HashMap, Layer, Option, Ref, Schema } from "effect"

export interface ${name}Entry {
  readonly id: string
  readonly name: string
}

export class ${name}NotFound extends Schema.TaggedError<${name}NotFound>()("${name}NotFound", {
  id: Schema.String
}) {}

export class ${name} extends Context.Service<${name}, {
  readonly save: (entry: ${name}Entry) => Effect.Effect<void>
  readonly find: (id: string) => Effect.Effect<${name}Entry, ${name}NotFound>
  readonly list: Effect.Effect<ReadonlyArray<${name}Entry>>
}>()("${tag}") {
  static readonly layer: Layer.Layer<${name}> = Layer.effect(
    ${name},
    Effect.gen(function*() {
      const entries = yield* Ref.make(HashMap.empty<string, ${name}Entry>())

      const save = Effect.fn("${name}.save")(function*(entry: ${name}Entry) {
        yield* Ref.update(entries, HashMap.set(entry.id, entry))
      })

      const find = Effect.fn("${name}.find")(function*(id: string) {
        const entry = HashMap.get(yield* Ref.get(entries), id)
        if (Option.isNone(entry)) return yield* new ${name}NotFound({ id })
        return entry.value
      })

      return ${name}.of({
        save,
        find,
        list: Effect.map(Ref.get(entries), (map) => [...HashMap.values(map)])
      })
    })
  )
}
`

const testSource = (name: string, importPath: string) =>
  `import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ${name}, ${name}NotFound } from "${importPath}"

describe("${name}", () => {
  it.effect("finds an entry after saving it", () =>
    Effect.gen(function*() {
      const service = yield* ${name}
      yield* service.save({ id: "first", name: "First" })
      assert.deepStrictEqual(yield* service.find("first"), { id: "first", name: "First" })
    }).pipe(Effect.provide(${name}.layer)))

  it.effect("replaces an entry saved again under the same id", () =>
    Effect.gen(function*() {
      const service = yield* ${name}
      yield* service.save({ id: "first", name: "First" })
      yield* service.save({ id: "second", name: "Second" })
      yield* service.save({ id: "first", name: "Renamed" })
      assert.strictEqual((yield* service.find("first")).name, "Renamed")
      assert.strictEqual((yield* service.list).length, 2)
    }).pipe(Effect.provide(${name}.layer)))

  it.effect("fails with ${name}NotFound for an unknown id", () =>
    Effect.gen(function*() {
      const service = yield* ${name}
      const error = yield* Effect.flip(service.find("missing"))
      assert.instanceOf(error, ${name}NotFound)
      assert.strictEqual(error.id, "missing")
    }).pipe(Effect.provide(${name}.layer)))
})
`

const display = (file: string) => {
  const fromCwd = relative(process.cwd(), file)
  return fromCwd.startsWith("..") || isAbsolute(fromCwd) ? file : fromCwd
}

const { positionals, values } = parse(process.argv.slice(2))
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}
if (positionals.length !== 1) fail(2, `expected exactly one <folder>/<name>, got ${positionals.length}\n\n${usage}`)

const segments = positionals[0].split("/")
const folders = segments.slice(0, -1)
const last = segments[segments.length - 1]
if (folders.length === 0 || !folders.every((s) => folderSegment.test(s)) || !nameSegment.test(last)) {
  fail(2, `invalid module path "${positionals[0]}"\n\n${usage}`)
}
const name = pascalCase(last)
if (reserved.has(name)) fail(2, `"${name}" would shadow an identifier the generated code uses\n\n${usage}`)
if (values.root === "") fail(2, `--root needs a directory\n\n${usage}`)

const root = values.root === undefined ? resolve(import.meta.dirname, "..") : resolve(values.root)
const folder = folders.join("/")
const servicePath = join(root, "src", ...folders, `${name}.ts`)
const testPath = join(root, "test", ...folders, `${name}.test.ts`)
const files = [{ path: servicePath, source: serviceSource(name, `app/${folder}/${name}`) }]
if (!values["no-test"]) {
  const importPath = `${"../".repeat(folders.length + 1)}src/${folder}/${name}.ts`
  files.push({ path: testPath, source: testSource(name, importPath) })
}

const existing = files.filter((file) => existsSync(file.path))
if (existing.length > 0) {
  fail(1, existing.map((file) => `refusing to overwrite ${display(file.path)}`).join("\n"))
}

for (const file of files) {
  mkdirSync(dirname(file.path), { recursive: true })
  writeFileSync(file.path, file.source, { flag: "wx" })
  process.stdout.write(`wrote ${display(file.path)}\n`)
}

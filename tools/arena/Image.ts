/**
 * What the container image runs: the Node flags of the Dockerfile's final `CMD ["node", ...flags, "dist/main.js"]`
 * and the `ENV` of its last stage, so the arena starts each instance with the same heap and allocator settings as
 * the deployment it measures.
 */
import { Data, Effect, Option } from "effect"
import { readFile } from "node:fs/promises"

export class ImageError extends Data.TaggedError("ImageError")<{ readonly message: string }> {}

/** The Dockerfile's instructions a line each, continuation lines joined. */
const logicalLines = (dockerfile: string) => dockerfile.replace(/\\\r?\n/g, " ").split(/\r?\n/)

/** The flags of the last exec-form CMD that runs `node … dist/main.js`; an error says what the file holds instead. */
export const nodeFlagsOf = (dockerfile: string): ReadonlyArray<string> | ImageError => {
  const commands = logicalLines(dockerfile).filter((line) => /^\s*CMD\s/i.test(line))
  const last = commands.at(-1)
  if (last === undefined) return new ImageError({ message: "the Dockerfile has no CMD" })
  const command = parseJson(last.replace(/^\s*CMD\s+/i, ""))
  if (Option.isNone(command)) return new ImageError({ message: `the CMD is not in exec form: ${last.trim()}` })
  const parts = command.value
  if (
    !Array.isArray(parts) || !parts.every((part) => typeof part === "string") || parts[0] !== "node" ||
    parts.at(-1) !== "dist/main.js"
  ) {
    return new ImageError({ message: `the CMD does not run node … dist/main.js: ${last.trim()}` })
  }
  return parts.slice(1, -1)
}

/** One `ENV` instruction's arguments, `A=1 B="two words"` (or the legacy `A 1`), as a record. */
export const envInstruction = (args: string): Readonly<Record<string, string>> => {
  if (/^\w+=/.test(args)) {
    return Object.fromEntries(
      Array.from(args.matchAll(/(\w+)=("[^"]*"|\S*)/g), (m): [string, string] => [m[1]!, m[2]!.replace(/^"|"$/g, "")])
    )
  }
  const space = args.search(/\s/)
  return space === -1 ? { [args]: "" } : { [args.slice(0, space)]: args.slice(space).trim() }
}

/** The `ENV` settings of the last stage (after the last FROM), later ones winning. */
export const envOf = (dockerfile: string): Readonly<Record<string, string>> => {
  const lines = logicalLines(dockerfile)
  const stage = lines.slice(lines.findLastIndex((line) => /^\s*FROM\s/i.test(line)) + 1)
  return Object.assign(
    {},
    ...stage.flatMap((line) => {
      const args = /^\s*ENV\s+(.*)$/i.exec(line)?.[1]
      return args === undefined ? [] : [envInstruction(args.trim())]
    })
  )
}

const parseJson = Option.liftThrowable((text: string): unknown => JSON.parse(text))

/** The image's Node flags and environment, read from the Dockerfile at `file`. */
export const readImage = Effect.fn("Image.readImage")(function*(file: string) {
  const text = yield* Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: () => new ImageError({ message: `cannot read ${file}` })
  })
  const flags = nodeFlagsOf(text)
  if (!Array.isArray(flags)) return yield* Effect.fail(flags)
  return { nodeFlags: flags, env: envOf(text) }
})

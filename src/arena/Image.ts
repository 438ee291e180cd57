/**
 * What the container image runs: the Node flags of the Dockerfile's final `CMD ["node", ...flags, "dist/main.js"]`,
 * so the arena starts each instance with the same heap settings as the deployment it measures.
 */
import { Data, Effect, Option } from "effect"
import { readFile } from "node:fs/promises"

export class ImageError extends Data.TaggedError("ImageError")<{ readonly message: string }> {}

/** The flags of the last exec-form CMD that runs `node … dist/main.js`; an error says what the file holds instead. */
export const nodeFlagsOf = (dockerfile: string): ReadonlyArray<string> | ImageError => {
  const commands = dockerfile.replace(/\\\r?\n/g, " ").split(/\r?\n/).filter((line) => /^\s*CMD\s/i.test(line))
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

const parseJson = Option.liftThrowable((text: string): unknown => JSON.parse(text))

export const readNodeFlags = Effect.fn("Image.readNodeFlags")(function*(file: string) {
  const text = yield* Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: () => new ImageError({ message: `cannot read ${file}` })
  })
  const flags = nodeFlagsOf(text)
  return Array.isArray(flags) ? flags : yield* Effect.fail(flags)
})

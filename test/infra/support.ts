import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { delimiter, join } from "node:path"
import { parse } from "yaml"

/** The repository root. */
export const root = join(import.meta.dirname, "..", "..")

export type Yaml = Readonly<Record<string, unknown>>

export const isRecord = (value: unknown): value is Yaml =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const readRepoFile = (path: string): string => readFileSync(join(root, path), "utf8")

/** docker-compose.yaml as compose reads it: YAML merge keys (`<<:`) are applied. */
export const loadCompose = (): Yaml => {
  const document: unknown = parse(readRepoFile("docker-compose.yaml"), { merge: true })
  if (!isRecord(document)) throw new Error("docker-compose.yaml is not a mapping")
  return document
}

export const servicesOf = (compose: Yaml): ReadonlyArray<readonly [string, Yaml]> => {
  if (!isRecord(compose.services)) throw new Error("docker-compose.yaml has no services")
  return Object.entries(compose.services).map(([name, definition]) => {
    if (!isRecord(definition)) throw new Error(`service "${name}" is not a mapping`)
    return [name, definition] as const
  })
}

export const serviceOf = (compose: Yaml, name: string): Yaml => {
  const found = servicesOf(compose).find(([service]) => service === name)
  if (found === undefined) throw new Error(`docker-compose.yaml has no service "${name}"`)
  return found[1]
}

export const profilesOf = (service: Yaml): ReadonlyArray<string> =>
  Array.isArray(service.profiles) ? service.profiles.map(String) : []

/** The services `docker compose up` starts without a `--profile`: the ones the Rinha's budget counts. */
export const defaultServicesOf = (compose: Yaml): ReadonlyArray<readonly [string, Yaml]> =>
  servicesOf(compose).filter(([, service]) => profilesOf(service).length === 0)

/** The API instances: the services built from this repository. */
export const appServicesOf = (compose: Yaml): ReadonlyArray<readonly [string, Yaml]> =>
  servicesOf(compose).filter(([, service]) => service.build !== undefined)

/** A service's environment, from either compose form (mapping, or a list of `KEY=VALUE`). */
export const environmentOf = (service: Yaml): Readonly<Record<string, string>> => {
  const environment = service.environment
  if (Array.isArray(environment)) {
    return Object.fromEntries(environment.map((entry) => {
      const text = String(entry)
      const equals = text.indexOf("=")
      return equals === -1 ? [text, ""] : [text.slice(0, equals), text.slice(equals + 1)]
    }))
  }
  if (!isRecord(environment)) return {}
  return Object.fromEntries(
    Object.entries(environment).map(([key, value]) => [key, value === null ? "" : String(value)])
  )
}

/** The networks a service is attached to, from either compose form (list or mapping). */
export const networksOf = (service: Yaml): ReadonlyArray<string> =>
  Array.isArray(service.networks)
    ? service.networks.map(String)
    : isRecord(service.networks)
    ? Object.keys(service.networks)
    : []

/** The tag of an image reference (`registry:5000/name:tag` → "tag"); undefined when there is none. */
export const tagOf = (image: string): string | undefined => {
  const name = image.split("@")[0]
  const last = name.slice(name.lastIndexOf("/") + 1)
  const colon = last.indexOf(":")
  return colon === -1 ? undefined : last.slice(colon + 1)
}

/** Pinned: a digest, or a tag with a version number in it (not `latest`). */
export const isPinned = (image: string): boolean => {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true
  const tag = tagOf(image)
  return tag !== undefined && tag !== "latest" && /\d/.test(tag)
}

/** An executable on PATH (or one of `extra`), if there is one. */
export const findExecutable = (name: string, extra: ReadonlyArray<string> = []): string | undefined =>
  [...extra, ...(process.env.PATH ?? "").split(delimiter).filter((dir) => dir !== "").map((dir) => join(dir, name))]
    .find((path) => existsSync(path))

export interface Completed {
  readonly code: number | null
  readonly output: string
  readonly millis: number
}

/** Runs a command to its end (killed after `timeout` ms), with its stdout and stderr together. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv; readonly timeout?: number } = {}
) =>
  Effect.callback<Completed>((resume) => {
    const started = performance.now()
    const child = spawn(command, [...args], {
      cwd: options.cwd ?? root,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeout ?? 60_000
    })
    let output = ""
    let done = false
    const finish = (code: number | null, text: string) => {
      if (done) return
      done = true
      resume(Effect.succeed({ code, output: text, millis: performance.now() - started }))
    }
    child.stdout.on("data", (chunk) => output += String(chunk))
    child.stderr.on("data", (chunk) => output += String(chunk))
    child.once("error", (error) => finish(null, `${output}${error.message}`))
    child.once("close", (code) => finish(code, output))
  })

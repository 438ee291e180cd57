import { Effect, Schema } from "effect"
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"

export class NginxConfigError extends Schema.TaggedError<NginxConfigError>()("NginxConfigError", {
  message: Schema.String
}) {}

/**
 * The project's nginx config for a local run: the same directives, with the upstream servers replaced by the
 * local instances, the listen port moved, and every path nginx writes (pid, temp files) kept under `dir`.
 */
export const renderNginxConfig = (template: string, options: {
  readonly listenPort: number
  readonly upstreamPorts: ReadonlyArray<number>
  readonly dir: string
}): string => {
  const upstream = /(upstream\s+\w+\s*\{)([^}]*)(\})/
  const match = upstream.exec(template)
  if (match === null) throw new Error("infra/nginx.conf has no upstream block")
  const servers = options.upstreamPorts.map((port) => `    server 127.0.0.1:${port};`).join("\n")
  const body = match[2].replace(/^\s*server\s+[^;]+;\s*$/gm, "").replace(/\n{2,}/g, "\n")
  const paths = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((name) => `  ${name}_temp_path ${join(options.dir, `${name}_temp`)};`)
    .join("\n")
  return template
    .replace(upstream, `${match[1]}\n${servers}${body}${match[3]}`)
    .replace(/listen\s+\d+/, `listen 127.0.0.1:${options.listenPort}`)
    .replace(/error_log\s+[^;]+;/, `error_log ${join(options.dir, "nginx-error.log")} error;`)
    .replace(/http\s*\{/, `http {\n${paths}`)
    .replace(/^/, `pid ${join(options.dir, "nginx.pid")};\n`)
}

export const writeNginxConfig = Effect.fn("Nginx.writeConfig")(function*(options: {
  readonly template: string
  readonly listenPort: number
  readonly upstreamPorts: ReadonlyArray<number>
  readonly dir: string
}) {
  const text = yield* Effect.tryPromise({
    try: () => readFile(options.template, "utf8"),
    catch: () => new NginxConfigError({ message: `cannot read ${options.template}` })
  })
  const rendered = yield* Effect.try({
    try: () => renderNginxConfig(text, options),
    catch: (error) => new NginxConfigError({ message: String(error) })
  })
  const file = join(options.dir, "nginx.conf")
  yield* Effect.tryPromise({
    try: () => writeFile(file, rendered),
    catch: () => new NginxConfigError({ message: `cannot write ${file}` })
  })
  return file
})

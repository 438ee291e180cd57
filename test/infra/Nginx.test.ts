import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { renderNginxConfig } from "../../tools/arena/Nginx.ts"
import { freePort } from "../support/process.ts"
import { scratchFolder } from "../support/scratch.ts"
import {
  appServicesOf,
  environmentOf,
  findExecutable,
  isRecord,
  loadCompose,
  readRepoFile,
  root,
  run,
  serviceOf
} from "./support.ts"

const configPath = join(root, "infra/nginx.conf")
const config = readRepoFile("infra/nginx.conf").replace(/#[^\n]*/g, "")
const compose = loadCompose()

const nginx = findExecutable("nginx", ["/usr/sbin/nginx"])
const unshare = findExecutable("unshare")
const verbatim = process.getuid?.() === 0 && unshare !== undefined

const upstream = /upstream\s+(\w+)\s*\{([^}]*)\}/.exec(config)
const upstreamServers = Array.from(upstream?.[2].matchAll(/^\s*server\s+([^\s;]+)[^;]*;/gm) ?? [], (m) => m[1])

/** The block `name {…}` opens, with nested blocks inside; "" when there is none. */
const blockOf = (text: string, name: RegExp): string => {
  const start = name.exec(text)
  if (start === null) return ""
  let depth = 0
  for (let index = start.index + start[0].length - 1; index < text.length; index++) {
    if (text[index] === "{") depth++
    if (text[index] === "}" && --depth === 0) return text.slice(start.index, index + 1)
  }
  return ""
}

const temporaryDirectory = scratchFolder("nginx-test-")

/** `nginx -t` on the file as committed, resolving its upstream hosts to 127.0.0.1 in a private /etc/hosts. */
const testVerbatim = (nginxPath: string, unsharePath: string) =>
  Effect.gen(function*() {
    const directory = yield* temporaryDirectory
    const hosts = join(directory, "hosts")
    const names = [...new Set(upstreamServers.map((server) => server.split(":")[0]))]
    const original = yield* Effect.promise(() => readFile("/etc/hosts", "utf8"))
    yield* Effect.promise(() => writeFile(hosts, `${original}\n127.0.0.1 ${names.join(" ")}\n`))
    return yield* run(unsharePath, [
      "-m",
      "sh",
      "-c",
      "mount --bind \"$0\" /etc/hosts && exec \"$1\" -t -c \"$2\"",
      hosts,
      nginxPath,
      configPath
    ])
  })

/** `nginx -t` on the file as the arena renders it for a local run: local upstreams, paths under a temp dir. */
const testRendered = (nginxPath: string) =>
  Effect.gen(function*() {
    const directory = yield* temporaryDirectory
    const rendered = renderNginxConfig(readRepoFile("infra/nginx.conf"), {
      listenPort: yield* freePort,
      upstreamPorts: [yield* freePort, yield* freePort],
      dir: directory
    })
    const file = join(directory, "nginx.conf")
    yield* Effect.promise(() => writeFile(file, rendered))
    return yield* run(nginxPath, ["-t", "-p", directory, "-e", "stderr", "-c", file])
  })

const how = verbatim
  ? "verbatim, with its upstream hosts in a private /etc/hosts"
  : "as the arena renders it (verbatim needs root and unshare)"

describe("infra/nginx.conf", () => {
  it.live.skipIf(nginx === undefined)(
    `nginx -t accepts it, ${nginx === undefined ? "(skipped: nginx is not installed)" : how}`,
    () =>
      Effect.gen(function*() {
        if (nginx === undefined) return
        const result = verbatim && unshare !== undefined
          ? yield* testVerbatim(nginx, unshare)
          : yield* testRendered(nginx)
        assert.strictEqual(result.code, 0, result.output)
        assert.include(result.output, "test is successful")
      }).pipe(Effect.scoped)
  )

  it("proxies to exactly the compose app services, on the port each listens on", () => {
    const expected = appServicesOf(compose).map(([name, app]) => `${name}:${environmentOf(app).PORT ?? "9999"}`)
    assert.isAtLeast(expected.length, 2, "two API instances at least")
    assert.deepStrictEqual([...upstreamServers].sort(), expected.sort())
    const location = blockOf(config, /location\s+\/\s*\{/)
    assert.match(location, new RegExp(`proxy_pass\\s+http://${upstream?.[1]}\\s*;`), "the location uses the upstream")
  })

  it("keeps connections to the upstreams alive over HTTP/1.1 and logs no access", () => {
    assert.match(upstream?.[2] ?? "", /^\s*keepalive\s+[1-9]\d*\s*;/m, "upstream keepalive")
    const location = blockOf(config, /location\s+\/\s*\{/)
    assert.match(location, /proxy_http_version\s+1\.1\s*;/)
    assert.match(location, /proxy_set_header\s+Connection\s+""\s*;/, "the Connection header is cleared")
    assert.match(blockOf(config, /http\s*\{/), /^\s*access_log\s+off\s*;/m)
    assert.notMatch(config, /access_log\s+(?!off)/, "no access_log turns logging back on")
  })

  it("listens on 9999, the container port compose publishes", () => {
    const listen = /^\s*listen\s+(?:[\d.]+:)?(\d+)\b[^;]*;/m.exec(blockOf(config, /server\s*\{/))
    assert.strictEqual(listen?.[1], "9999")
    const ports = serviceOf(compose, "nginx").ports
    const mappings = (Array.isArray(ports) ? ports : []).map((port: unknown) =>
      isRecord(port) ? `${port.published}:${port.target}` : String(port).split("/")[0]
    )
    assert.include(mappings, `9999:${listen?.[1]}`)
  })
})

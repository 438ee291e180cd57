import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Redacted, Result } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { limitsOfCompose, totalOf } from "../../tools/arena/Limits.ts"
import {
  appServicesOf,
  defaultServicesOf,
  environmentOf,
  isPinned,
  isRecord,
  loadCompose,
  networksOf,
  profilesOf,
  readRepoFile,
  root,
  run,
  serviceOf,
  servicesOf,
  type Yaml
} from "./support.ts"

const compose = loadCompose()
const apps = appServicesOf(compose)
const postgres = serviceOf(compose, "postgres")
const nginx = serviceOf(compose, "nginx")

const processorUrls = {
  PAYMENT_PROCESSOR_URL_DEFAULT: "http://payment-processor-default:8080",
  PAYMENT_PROCESSOR_URL_FALLBACK: "http://payment-processor-fallback:8080"
}

const MiB = 1024 ** 2

/** The variable names src/config/AppConfig.ts reads: `Config.X("NAME")`, `helper("NAME", …)`, `Config.schema(…, "NAME")`. */
const declaredVariables = (source: string): ReadonlySet<string> =>
  new Set([
    ...Array.from(source.matchAll(/\w+(?:\.\w+)*\(\s*"([A-Z][A-Z0-9_]*)"/g), (match) => match[1]),
    ...Array.from(source.matchAll(/,\s*"([A-Z][A-Z0-9_]*)"\s*\)/g), (match) => match[1])
  ])

const hostPath = (volume: unknown): string | undefined => {
  const source = typeof volume === "string" ? volume.split(":")[0] : isRecord(volume) ? volume.source : undefined
  return typeof source === "string" && (source.startsWith("./") || source.startsWith("/")) ? source : undefined
}

const targetOf = (volume: unknown): string | undefined => {
  if (typeof volume === "string") return volume.split(":")[1]
  return isRecord(volume) && typeof volume.target === "string" ? volume.target : undefined
}

/** The published (host) port of each `ports` entry, short or long form. */
const publishedPorts = (service: Yaml): ReadonlyArray<string> =>
  (Array.isArray(service.ports) ? service.ports : []).map((port: unknown) => {
    if (isRecord(port)) return String(port.published ?? "")
    const parts = String(port).split("/")[0].split(":")
    return parts.length >= 2 ? parts[parts.length - 2] : ""
  })

const postgresSetting = (name: string): string | undefined => {
  const command = Array.isArray(postgres.command) ? postgres.command.map(String) : String(postgres.command ?? "")
    .split(/\s+/)
  const setting = command.find((argument) => argument.startsWith(`${name}=`))
  return setting?.slice(name.length + 1)
}

const composeAvailable = spawnSync("docker", ["compose", "version"], { stdio: "ignore" }).status === 0

describe("docker-compose.yaml", () => {
  it("the services started without a profile declare limits that stay within 1.5 CPU and 350MB together", () => {
    const limits = limitsOfCompose(compose)
    assert.isTrue(Result.isSuccess(limits), Result.isFailure(limits) ? limits.failure.message : "")
    if (Result.isFailure(limits)) return
    const counted = defaultServicesOf(compose).map(([name]) => name).sort()
    const limited = limits.success.filter((limit) => counted.includes(limit.service))
    assert.deepStrictEqual(limited.map((limit) => limit.service).sort(), counted, "every counted service has limits")
    const total = totalOf(limited)
    assert.isAtMost(total.cpus, 1.5, `cpus: ${JSON.stringify(limited)}`)
    assert.isAtMost(total.memoryBytes, 350 * MiB, `memory: ${total.memoryBytes / MiB} MiB`)
  })

  it("app1 and app2 are instances of the same image, told apart by INSTANCE_ID", () => {
    const names = apps.map(([name]) => name)
    assert.includeMembers(names, ["app1", "app2"])
    const [[, first], ...others] = apps
    for (const [name, app] of others) {
      assert.deepStrictEqual(app.build, first.build, `${name}: build`)
      assert.strictEqual(app.image, first.image, `${name}: image`)
    }
    const ids = apps.map(([, app]) => environmentOf(app).INSTANCE_ID)
    assert.isTrue(ids.every((id) => id !== undefined && id !== ""), `INSTANCE_IDs: ${ids.join(", ")}`)
    assert.strictEqual(new Set(ids).size, ids.length, `INSTANCE_IDs: ${ids.join(", ")}`)
  })

  it("the apps reach the processors at their official addresses, over the external payment-processor network", () => {
    const networks = isRecord(compose.networks) ? compose.networks : {}
    const external = networks["payment-processor"]
    assert.isTrue(isRecord(external) && external.external === true, "networks.payment-processor.external: true")
    for (const [name, app] of apps) {
      assert.include(networksOf(app), "payment-processor", name)
      const environment = environmentOf(app)
      for (const [key, url] of Object.entries(processorUrls)) {
        assert.strictEqual(environment[key], url, `${name}.${key}`)
      }
    }
  })

  it("the apps' database settings point at the postgres service, which they wait for until it is healthy", () => {
    const database = environmentOf(postgres)
    const healthcheck = isRecord(postgres.healthcheck) ? postgres.healthcheck : {}
    assert.isDefined(healthcheck.test, "postgres has a healthcheck")
    assert.isUndefined(postgresSetting("port"), "postgres listens on its default port")
    let pools = 0
    for (const [name, app] of apps) {
      const environment = environmentOf(app)
      const dependsOn = isRecord(app.depends_on) ? app.depends_on : {}
      const onPostgres = dependsOn.postgres
      assert.isTrue(isRecord(onPostgres) && onPostgres.condition === "service_healthy", `${name} waits for postgres`)
      assert.isUndefined(environment.DATABASE_URL, `${name}: DATABASE_URL would take precedence over DB_*`)
      const postgresNames = typeof postgres.hostname === "string" ? ["postgres", postgres.hostname] : ["postgres"]
      assert.include(postgresNames, environment.DB_HOST ?? "", `${name}.DB_HOST`)
      assert.strictEqual(environment.DB_PORT ?? "5432", "5432", `${name}.DB_PORT`)
      assert.strictEqual(environment.DB_NAME, database.POSTGRES_DB, `${name}.DB_NAME`)
      assert.strictEqual(environment.DB_USER, database.POSTGRES_USER, `${name}.DB_USER`)
      assert.strictEqual(environment.DB_PASSWORD, database.POSTGRES_PASSWORD, `${name}.DB_PASSWORD`)
      assert.isTrue(networksOf(app).some((network) => networksOf(postgres).includes(network)), `${name} and postgres`)
      pools += Number(environment.DB_POOL_SIZE ?? 8)
    }
    const maxConnections = Number(postgresSetting("max_connections") ?? 100)
    const reserved = Number(postgresSetting("superuser_reserved_connections") ?? 3)
    assert.isAtMost(pools, maxConnections - reserved, "the apps' pools fit in postgres' max_connections")
  })

  it.effect("the service reads each app's environment as the settings compose means", () =>
    Effect.gen(function*() {
      const database = environmentOf(postgres)
      for (const [name, app] of apps) {
        const env = environmentOf(app)
        const settings = yield* Effect.service(AppConfig).pipe(
          Effect.provide(AppConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))))
        )
        assert.strictEqual(settings.instanceId, env.INSTANCE_ID, name)
        assert.deepStrictEqual(settings.processorUrls, {
          default: processorUrls.PAYMENT_PROCESSOR_URL_DEFAULT,
          fallback: processorUrls.PAYMENT_PROCESSOR_URL_FALLBACK
        })
        assert.strictEqual(settings.database._tag, "Params", name)
        if (settings.database._tag !== "Params") continue
        assert.strictEqual(settings.database.host, "postgres")
        assert.strictEqual(settings.database.database, database.POSTGRES_DB)
        assert.strictEqual(settings.database.user, database.POSTGRES_USER)
        assert.deepStrictEqual(
          Option.map(settings.database.password, Redacted.value),
          Option.some(database.POSTGRES_PASSWORD)
        )
      }
    }))

  it("the apps set only variables src/config/AppConfig.ts reads", () => {
    const declared = declaredVariables(readRepoFile("src/config/AppConfig.ts"))
    for (
      const known of ["PORT", "INSTANCE_ID", "DB_HOST", "DATABASE_URL", "INTAKE_DURABILITY", "ROUTING_UTILIZATION"]
    ) {
      assert.isTrue(declared.has(known), `the pattern finds ${known} in AppConfig.ts`)
    }
    for (const [name, app] of apps) {
      const unknown = Object.keys(environmentOf(app)).filter((key) => !declared.has(key))
      assert.deepStrictEqual(unknown, [], `${name} sets variables the service never reads`)
    }
  })

  it("nginx publishes port 9999 and loads infra/nginx.conf", () => {
    assert.include(publishedPorts(nginx), "9999")
    const volumes = Array.isArray(nginx.volumes) ? nginx.volumes : []
    const config = volumes.find((volume: unknown) => hostPath(volume) === "./infra/nginx.conf")
    assert.isDefined(config, "./infra/nginx.conf is mounted")
    assert.strictEqual(targetOf(config), "/etc/nginx/nginx.conf")
  })

  it("every file the counted services mount exists", () => {
    const mounts = defaultServicesOf(compose).flatMap(([name, service]) =>
      (Array.isArray(service.volumes) ? service.volumes : []).flatMap((volume: unknown) => {
        const path = hostPath(volume)
        return path === undefined ? [] : [`${name}: ${path}`]
      })
    )
    assert.isNotEmpty(mounts)
    const missing = mounts.filter((mount) => !existsSync(join(root, mount.slice(mount.indexOf(": ") + 2))))
    assert.deepStrictEqual(missing, [])
  })

  it("no service uses the host network, privileged mode or replicas", () => {
    for (const [name, service] of servicesOf(compose)) {
      assert.include([undefined, "bridge"], service.network_mode, `${name}.network_mode`)
      assert.notStrictEqual(service.privileged, true, `${name}.privileged`)
      const deploy = isRecord(service.deploy) ? service.deploy : {}
      assert.isUndefined(deploy.replicas, `${name}.deploy.replicas`)
    }
    for (const [name, network] of Object.entries(isRecord(compose.networks) ? compose.networks : {})) {
      const definition = isRecord(network) ? network : {}
      if (definition.external === true) continue
      assert.include([undefined, "bridge"], definition.driver, `networks.${name}.driver`)
    }
  })

  it("every image is pinned to a version", () => {
    for (const [name, service] of servicesOf(compose)) {
      assert.isString(service.image, `${name} names its image`)
      const image = String(service.image)
      assert.isTrue(isPinned(image), `${name}: image "${image}" is not pinned to a version`)
    }
  })

  it("the observability profile holds exactly prometheus, tempo and grafana, and no other profile exists", () => {
    const profiled = servicesOf(compose).filter(([, service]) => profilesOf(service).length > 0)
    assert.deepStrictEqual(profiled.map(([name]) => name).sort(), ["grafana", "prometheus", "tempo"])
    for (const [name, service] of profiled) assert.deepStrictEqual(profilesOf(service), ["observability"], name)
  })

  it.live.skipIf(!composeAvailable)(
    `docker compose config -q accepts the file${composeAvailable ? "" : " (skipped: no docker compose here)"}`,
    () =>
      Effect.gen(function*() {
        for (const profile of [[], ["--profile", "observability"]]) {
          const result = yield* run("docker", ["compose", "-f", "docker-compose.yaml", ...profile, "config", "-q"])
          assert.strictEqual(result.code, 0, result.output)
        }
      })
  )
})

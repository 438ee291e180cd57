import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule, Schema } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parse, stringify } from "yaml"
import { postPayment } from "../support/process.ts"
import { startService } from "../support/service.ts"

const root = resolve(import.meta.dirname, "../..")
const read = (path: string) => readFileSync(join(root, path), "utf8")
const readYaml = (path: string): unknown => parse(read(path), { merge: true })

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" })
const promtoolMissing = promtool.error === undefined ? undefined : "promtool is not on PATH"

const DataSourceRef = Schema.Struct({ type: Schema.optional(Schema.String), uid: Schema.optional(Schema.String) })

const Target = Schema.Struct({
  refId: Schema.String,
  datasource: Schema.optional(DataSourceRef),
  expr: Schema.optional(Schema.String)
})

interface Panel {
  readonly type: string
  readonly title: string
  readonly datasource?: typeof DataSourceRef.Type | undefined
  readonly targets?: ReadonlyArray<typeof Target.Type> | undefined
  readonly panels?: ReadonlyArray<Panel> | undefined
  readonly fieldConfig?: { readonly defaults: { readonly unit?: string | undefined } } | undefined
}

const Panel = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  datasource: Schema.optional(DataSourceRef),
  targets: Schema.optional(Schema.Array(Target)),
  panels: Schema.optional(Schema.Array(Schema.suspend((): Schema.Codec<Panel> => Panel))),
  fieldConfig: Schema.optional(Schema.Struct({ defaults: Schema.Struct({ unit: Schema.optional(Schema.String) }) }))
})

const Dashboard = Schema.Struct({
  uid: Schema.String,
  title: Schema.String,
  refresh: Schema.String,
  schemaVersion: Schema.Number,
  time: Schema.Struct({ from: Schema.String, to: Schema.String }),
  templating: Schema.Struct({
    list: Schema.Array(Schema.Struct({ name: Schema.String, datasource: Schema.optional(DataSourceRef) }))
  }),
  panels: Schema.Array(Panel)
})

const DataSources = Schema.Struct({
  apiVersion: Schema.Literal(1),
  datasources: Schema.Array(Schema.Struct({
    name: Schema.String,
    type: Schema.String,
    uid: Schema.String,
    url: Schema.String,
    isDefault: Schema.optional(Schema.Boolean)
  }))
})

const DashboardProviders = Schema.Struct({
  apiVersion: Schema.Literal(1),
  providers: Schema.Array(Schema.Struct({
    name: Schema.String,
    type: Schema.Literal("file"),
    options: Schema.Struct({ path: Schema.String })
  }))
})

const Endpoint = Schema.Struct({ endpoint: Schema.String })

const Tempo = Schema.Struct({
  server: Schema.Struct({ http_listen_port: Schema.Number }),
  distributor: Schema.Struct({
    receivers: Schema.Struct({
      otlp: Schema.Struct({ protocols: Schema.Struct({ http: Endpoint, grpc: Endpoint }) })
    })
  }),
  storage: Schema.Struct({
    trace: Schema.Struct({
      backend: Schema.Literal("local"),
      wal: Schema.Struct({ path: Schema.String }),
      local: Schema.Struct({ path: Schema.String })
    })
  })
})

const PrometheusConfig = Schema.Struct({
  scrape_configs: Schema.Array(Schema.Struct({
    job_name: Schema.String,
    static_configs: Schema.Array(Schema.Struct({ targets: Schema.Array(Schema.String) }))
  }))
})

const Compose = Schema.Struct({
  services: Schema.Record(
    Schema.String,
    Schema.Struct({
      environment: Schema.optional(Schema.Record(Schema.String, Schema.String)),
      volumes: Schema.optional(Schema.Array(Schema.String))
    })
  )
})

const dashboard = Schema.decodeUnknownSync(Dashboard)(JSON.parse(read("infra/grafana/dashboards/rinha-payments.json")))
const dataSources = Schema.decodeUnknownSync(DataSources)(
  readYaml("infra/grafana/provisioning/datasources/datasources.yaml")
)

const allPanels = (panels: ReadonlyArray<Panel>): ReadonlyArray<Panel> =>
  panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])])

const aggregations = "sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio"
const keywords = "by without on ignoring group_left group_right bool and or unless offset atan2 inf nan"
const functions = `
  abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max clamp_min
  cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv
  double_exponential_smoothing end exp floor histogram_avg histogram_count histogram_fraction histogram_quantile
  histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta increase irate label_join label_replace
  last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi predict_linear
  present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
  sort_by_label_desc sort_desc sqrt start stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp
  vector year`
const promqlWords = new Set(`${aggregations} ${keywords} ${functions}`.trim().split(/\s+/))

/**
 * The metric names a PromQL expression selects. String literals, label matchers `{…}`, label lists of
 * by/without/on/ignoring/group_* and range or subquery brackets `[…]` are blanked first, since they hold label
 * names and Grafana variables; what is left is either a function or keyword (a known word, or followed by `(`),
 * a number, or a metric name.
 */
const metricNames = (expr: string): ReadonlyArray<string> => {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, "\"\"")
    .replace(/\{[^}]*\}/g, "{}")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, "$1 ()")
    .replace(/\[[^\]]*\]/g, "[]")
  const names = new Set<string>()
  for (const match of bare.matchAll(/(?<![\w:$.])[a-zA-Z_:][\w:]*(?![\w:])(?!\s*\()/g)) {
    if (!promqlWords.has(match[0].toLowerCase())) names.add(match[0])
  }
  return [...names]
}

const prometheusExprs = allPanels(dashboard.panels).flatMap((panel) =>
  (panel.targets ?? []).flatMap((target) => target.expr === undefined ? [] : [target.expr])
)

const queriedMetrics = [...new Set(prometheusExprs.flatMap(metricNames))].sort()

/** The series names of a Prometheus text exposition: `name_bucket`, `name_sum`, `name_count` for a histogram. */
const seriesNames = (exposition: string) =>
  new Set(
    exposition.split("\n").filter((line) => line !== "" && !line.startsWith("#")).map((line) =>
      line.split(/[{\s]/, 1)[0]
    )
  )

describe("the PromQL metric-name extractor", () => {
  it("keeps metric names and drops functions, keywords, label names, strings and Grafana variables", () => {
    assert.deepStrictEqual(
      metricNames(
        `sum by (route, status) (rate(http_requests_total{route!="/x y", status=~"5.."}[$__rate_interval]))`
          + ` / on(instance) group_left(job) max without (le) (up_total offset 5m) > bool 1e3`
          + ` or histogram_quantile(0.99, sum by (le) (rate(a:b_bucket[5m:1m])))`
          + ` unless vector(1) and label_replace(foo, "x", "$1", "y", "(.*)")`
      ),
      ["http_requests_total", "up_total", "a:b_bucket", "foo"]
    )
    assert.deepStrictEqual(metricNames(`process_cpu_seconds_total`), ["process_cpu_seconds_total"])
    assert.deepStrictEqual(metricNames(`sum(x{instance=~"$instance"})/count (y)`), ["x", "y"])
  })
})

describe("the Grafana dashboard", () => {
  it("is the provisioned dashboard, and every panel and query uses a provisioned datasource", () => {
    assert.strictEqual(dashboard.uid, "rinha-payments")
    assert.strictEqual(dashboard.title, "Rinha payments")
    assert.strictEqual(dashboard.refresh, "5s")
    assert.deepStrictEqual(dashboard.time, { from: "now-15m", to: "now" })
    assert.isAtLeast(dashboard.schemaVersion, 39)

    const provisioned = new Map(dataSources.datasources.map((source) => [source.uid, source.type]))
    const known = (ref: typeof DataSourceRef.Type | undefined, where: string) => {
      assert.isDefined(ref?.uid, `${where} names a datasource uid`)
      assert.isTrue(provisioned.has(ref?.uid ?? ""), `${where}: datasource ${ref?.uid} is provisioned`)
      if (ref?.type !== undefined) assert.strictEqual(ref.type, provisioned.get(ref.uid ?? ""), `${where} type`)
    }
    const panels = allPanels(dashboard.panels).filter((panel) => panel.type !== "row")
    assert.isAtLeast(panels.length, 20)
    for (const panel of panels) {
      known(panel.datasource, `panel "${panel.title}"`)
      assert.isNotEmpty(panel.targets ?? [], `panel "${panel.title}" has queries`)
      for (const target of panel.targets ?? []) {
        known(target.datasource ?? panel.datasource, `panel "${panel.title}" query ${target.refId}`)
        if (target.expr !== undefined) {
          assert.strictEqual((target.datasource ?? panel.datasource)?.uid, "prometheus", `"${panel.title}" PromQL`)
        }
      }
      if (panel.type === "timeseries") {
        assert.isDefined(panel.fieldConfig?.defaults.unit, `panel "${panel.title}" has a unit`)
      }
    }
    for (const variable of dashboard.templating.list) known(variable.datasource, `variable ${variable.name}`)
    assert.isAtLeast(queriedMetrics.length, 20, `extracted: ${queriedMetrics.join(", ")}`)
  })

  it.live(
    "queries only metrics the real service exposes under traffic",
    () =>
      Effect.gen(function*() {
        const { port } = yield* startService()

        const repeated = crypto.randomUUID()
        yield* postPayment(port, repeated)
        // each round pays, repeats a correlationId (a rejection), then reads /metrics: what is still missing
        const round = Effect.gen(function*() {
          const ids = [...Array.from({ length: 50 }, () => crypto.randomUUID()), repeated]
          yield* Effect.forEach(ids, (id) => postPayment(port, id), { concurrency: 10, discard: true })
          const exposition = yield* Effect.tryPromise(() =>
            fetch(`http://127.0.0.1:${port}/metrics`).then((response) => response.text())
          )
          const exposed = seriesNames(exposition)
          return queriedMetrics.filter((name) => !exposed.has(name))
        })
        let missing: ReadonlyArray<string> = queriedMetrics
        yield* round.pipe(
          Effect.tap((left) => Effect.sync(() => missing = left)),
          Effect.repeat({ schedule: Schedule.spaced("500 millis"), until: (left) => left.length === 0 }),
          Effect.timeoutOption("60 seconds")
        )
        assert.deepStrictEqual(
          missing,
          [],
          `the dashboard queries metrics the service's /metrics never exposed: ${missing.join(", ")}`
        )
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})

describe.skipIf(promtoolMissing !== undefined)(
  `the Prometheus configuration and queries${promtoolMissing === undefined ? "" : ` (${promtoolMissing})`}`,
  () => {
    const promtoolCheck = (...args: ReadonlyArray<string>) => {
      const result = spawnSync("promtool", ["check", ...args], { cwd: root, encoding: "utf8", timeout: 20_000 })
      return { status: result.status, output: `${result.stdout}${result.stderr}` }
    }

    it("promtool accepts infra/prometheus.yml", () => {
      const result = promtoolCheck("config", "infra/prometheus.yml")
      assert.strictEqual(result.status, 0, result.output)
    })

    it("promtool parses every PromQL query of the dashboard", () => {
      const dir = mkdtempSync(join(tmpdir(), "dashboard-rules-"))
      try {
        const rules = prometheusExprs.map((expr, i) => ({
          record: `dashboard:query_${i}`,
          expr: expr.replaceAll("$__rate_interval", "1m").replaceAll("$instance", ".*")
        }))
        writeFileSync(join(dir, "rules.yml"), stringify({ groups: [{ name: "dashboard", rules }] }))
        const result = promtoolCheck("rules", join(dir, "rules.yml"))
        assert.strictEqual(result.status, 0, result.output)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  }
)

describe("the observability configuration files", () => {
  const compose = Schema.decodeUnknownSync(Compose)(readYaml("docker-compose.yaml"))
  const mountTarget = (service: string, source: string) =>
    compose.services[service]?.volumes?.map((volume) => volume.split(":")).find(([from]) => from === source)?.[1]

  it("Tempo receives OTLP over HTTP on 4318 and gRPC on 4317 on every interface, and stores on its volume", () => {
    const tempo = Schema.decodeUnknownSync(Tempo)(readYaml("infra/tempo.yaml"))
    const { grpc, http } = tempo.distributor.receivers.otlp.protocols
    assert.strictEqual(http.endpoint, "0.0.0.0:4318")
    assert.strictEqual(grpc.endpoint, "0.0.0.0:4317")
    assert.strictEqual(new URL(compose.services.app1?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT ?? "").port, "4318")
    assert.strictEqual(tempo.server.http_listen_port, 3200)
    for (const path of [tempo.storage.trace.wal.path, tempo.storage.trace.local.path]) {
      assert.isTrue(path.startsWith("/var/tempo/"), `${path} is on the tempo-data volume`)
    }
  })

  it("Grafana's datasources point at the compose services, and its provider loads the mounted dashboards", () => {
    const urls = new Map(dataSources.datasources.map((source) => [source.uid, source.url]))
    assert.strictEqual(urls.get("prometheus"), "http://prometheus:9090")
    assert.strictEqual(urls.get("tempo"), "http://tempo:3200")
    assert.deepStrictEqual(
      dataSources.datasources.filter((source) => source.isDefault === true).map((source) => source.uid),
      ["prometheus"]
    )

    const providers = Schema.decodeUnknownSync(DashboardProviders)(
      readYaml("infra/grafana/provisioning/dashboards/dashboards.yaml")
    )
    assert.deepStrictEqual(
      providers.providers.map((provider) => provider.options.path),
      [mountTarget("grafana", "./infra/grafana/dashboards")]
    )
  })

  it("Prometheus scrapes each API instance of the compose file on the port it serves", () => {
    const prometheus = Schema.decodeUnknownSync(PrometheusConfig)(readYaml("infra/prometheus.yml"))
    const job = prometheus.scrape_configs.find((config) => config.job_name === "rinha-payments")
    const targets = job?.static_configs.flatMap((config) => config.targets) ?? []
    assert.deepStrictEqual(targets, ["app1:9999", "app2:9999"])
    for (const target of targets) {
      const [host, port] = target.split(":")
      assert.strictEqual(compose.services[host]?.environment?.PORT, port, `${host} serves on ${port}`)
    }
  })
})

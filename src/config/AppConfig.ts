import {
  Config,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Layer,
  type LogLevel,
  Option,
  type Redacted,
  Schema
} from "effect"

export type DatabaseSettings =
  | { readonly _tag: "Url"; readonly url: Redacted.Redacted; readonly poolSize: number; readonly ssl: boolean }
  | {
    readonly _tag: "Params"
    readonly host: string
    readonly port: number
    readonly user: string
    readonly password: Option.Option<Redacted.Redacted>
    readonly database: string
    readonly poolSize: number
    readonly ssl: boolean
  }
  | { readonly _tag: "Embedded"; readonly dataDir: Option.Option<string> }

export interface AppSettings {
  readonly instanceId: string
  readonly host: string
  readonly port: number
  /** Where /metrics is served instead of the API port, when set. */
  readonly metricsPort: Option.Option<number>
  /** How often the event loop's delay is sampled for the nodejs_eventloop_lag_* metrics: each sample wakes the loop. */
  readonly eventLoopSampleInterval: Duration.Duration
  readonly bodyLimit: number
  readonly queueCapacity: number
  readonly workers: number
  readonly processorUrls: { readonly default: string; readonly fallback: string }
  readonly processorConnections: number
  readonly processorTimeout: Duration.Duration
  readonly processorAcquireTimeout: Duration.Duration
  readonly retryBase: Duration.Duration
  readonly retryMax: Duration.Duration
  readonly recordBatchSize: number
  /** The least time between two batched inserts: payments handed over meanwhile share the next statement. */
  readonly recordInterval: Duration.Duration
  readonly intakeDurability: "memory" | "postgres"
  readonly intakeLease: Duration.Duration
  readonly routing: {
    readonly maxDefaultDelay: Duration.Duration
    readonly maxDelay: Duration.Duration
    readonly maxHold: Duration.Duration
    readonly suspectFor: Duration.Duration
    readonly utilization: number
    /** Sends a second beyond arrivals a backlog may always use. */
    readonly drainRate: number
    /**
     * The most the drain rises to while the process uses less of a core than `drainCpuTarget`; at or below
     * `drainRate` the drain stays at `drainRate`.
     */
    readonly drainMaxRate: number
    readonly drainCpuTarget: number
  }
  readonly health: {
    readonly pollInterval: Duration.Duration
    readonly timeout: Duration.Duration
    readonly lease: Duration.Duration
    readonly refreshInterval: Duration.Duration
  }
  readonly shutdownGrace: Duration.Duration
  /** How long GET /payments-summary waits for the payments being recorded before it answers 503. */
  readonly summaryRecordWait: Duration.Duration
  /**
   * How long an instance's recorder mark counts after its last renewal: a summary served by another instance waits
   * only for the marks of instances alive this recently.
   */
  readonly recorderMarkLease: Duration.Duration
  readonly database: DatabaseSettings
  readonly databaseTimeouts: { readonly connect: Duration.Duration; readonly statement: Duration.Duration }
  readonly otlpEndpoint: Option.Option<string>
  /** Trace only when the endpoint's host resolves at startup (a collector that runs only in some deployments). */
  readonly otlpOptional: boolean
  readonly logLevel: LogLevel.LogLevel
}

const positiveInt = (name: string, fallback: number) =>
  Config.schema(Schema.Int.check(Schema.isGreaterThan(0)), name).pipe(Config.withDefault(fallback))

const duration = (name: string, fallback: Duration.Input) =>
  Config.Duration(name).pipe(Config.withDefault(Duration.fromInputUnsafe(fallback)))

const HttpUrl = Schema.String.check(Schema.isPattern(/^https?:\/\/[^\s/]+(\/\S*)?$/, { expected: "an http(s) URL" }))

const httpUrl = (name: string) => Config.schema(HttpUrl, name).pipe(Config.map((url) => url.replace(/\/+$/, "")))

const databaseSettings: Config.Config<DatabaseSettings> = Config.all({
  url: Config.option(Config.Redacted("DATABASE_URL")),
  host: Config.option(Config.String("DB_HOST")),
  port: Config.Port("DB_PORT").pipe(Config.withDefault(5432)),
  user: Config.String("DB_USER").pipe(Config.withDefault("postgres")),
  password: Config.option(Config.Redacted("DB_PASSWORD")),
  database: Config.String("DB_NAME").pipe(Config.withDefault("postgres")),
  poolSize: positiveInt("DB_POOL_SIZE", 8),
  ssl: Config.Boolean("DB_SSL").pipe(Config.withDefault(false)),
  dataDir: Config.option(Config.String("PGLITE_DATA_DIR"))
}).pipe(Config.map((c): DatabaseSettings => {
  if (Option.isSome(c.url)) return { _tag: "Url", url: c.url.value, poolSize: c.poolSize, ssl: c.ssl }
  if (Option.isSome(c.host)) {
    return {
      _tag: "Params",
      host: c.host.value,
      port: c.port,
      user: c.user,
      password: c.password,
      database: c.database,
      poolSize: c.poolSize,
      ssl: c.ssl
    }
  }
  return { _tag: "Embedded", dataDir: c.dataDir }
}))

const metricsPort = Config.all({
  port: Config.Port("PORT").pipe(Config.withDefault(9999)),
  metricsPort: Config.option(Config.Port("METRICS_PORT"))
}).pipe(Config.mapEffect(({ metricsPort, port }) =>
  Option.contains(metricsPort, port)
    ? Effect.fail(
      new Config.ConfigError(
        new ConfigProvider.SourceError({ message: `METRICS_PORT must differ from PORT (${port})` })
      )
    )
    : Effect.succeed(metricsPort)
))

export const appSettings: Config.Config<AppSettings> = Config.all({
  instanceId: Config.String("INSTANCE_ID").pipe(Config.withDefault("api")),
  host: Config.String("HOST").pipe(Config.withDefault("0.0.0.0")),
  port: Config.Port("PORT").pipe(Config.withDefault(9999)),
  metricsPort,
  eventLoopSampleInterval: duration("EVENT_LOOP_SAMPLE_INTERVAL", "100 millis"),
  bodyLimit: positiveInt("HTTP_BODY_LIMIT", 4096),
  queueCapacity: positiveInt("PAYMENT_QUEUE_CAPACITY", 20_000),
  workers: positiveInt("PAYMENT_WORKERS", 400),
  processorUrls: Config.all({
    default: httpUrl("PAYMENT_PROCESSOR_URL_DEFAULT").pipe(Config.withDefault("http://localhost:8001")),
    fallback: httpUrl("PAYMENT_PROCESSOR_URL_FALLBACK").pipe(Config.withDefault("http://localhost:8002"))
  }),
  processorConnections: positiveInt("PROCESSOR_CONNECTIONS", 400),
  processorTimeout: duration("PROCESSOR_TIMEOUT", "10 seconds"),
  processorAcquireTimeout: duration("PROCESSOR_ACQUIRE_TIMEOUT", "1 second"),
  retryBase: duration("PAYMENT_RETRY_BASE", "100 millis"),
  retryMax: duration("PAYMENT_RETRY_MAX", "5 seconds"),
  recordBatchSize: positiveInt("RECORD_BATCH_SIZE", 500),
  recordInterval: duration("RECORD_BATCH_INTERVAL", "100 millis"),
  intakeDurability: Config.schema(Schema.Literals(["memory", "postgres"]), "INTAKE_DURABILITY").pipe(
    Config.withDefault("memory" as const)
  ),
  intakeLease: duration("INTAKE_CLAIM_LEASE", "10 seconds"),
  routing: Config.all({
    maxDefaultDelay: duration("ROUTING_MAX_DEFAULT_DELAY", "1 second"),
    maxDelay: duration("ROUTING_MAX_DELAY", "1500 millis"),
    maxHold: duration("ROUTING_MAX_HOLD", "70 seconds"),
    suspectFor: duration("ROUTING_SUSPECT_FOR", "1 second"),
    utilization: Config.schema(
      Schema.Finite.check(Schema.isBetween({ minimum: 0.05, maximum: 1 })),
      "ROUTING_UTILIZATION"
    )
      .pipe(Config.withDefault(0.8)),
    drainRate: positiveInt("ROUTING_DRAIN_RATE", 150),
    drainMaxRate: positiveInt("ROUTING_DRAIN_MAX_RATE", 600),
    drainCpuTarget: Config.schema(
      Schema.Finite.check(Schema.isBetween({ minimum: 0.01, maximum: 1 })),
      "ROUTING_DRAIN_CPU_TARGET"
    ).pipe(Config.withDefault(0.35))
  }),
  health: Config.all({
    pollInterval: duration("HEALTH_POLL_INTERVAL", "5100 millis"),
    timeout: duration("HEALTH_TIMEOUT", "2 seconds"),
    lease: duration("HEALTH_LEASE", "3 seconds"),
    refreshInterval: duration("HEALTH_REFRESH_INTERVAL", "250 millis")
  }),
  shutdownGrace: duration("SHUTDOWN_GRACE", "10 seconds"),
  summaryRecordWait: duration("SUMMARY_RECORD_WAIT", "300 millis"),
  recorderMarkLease: duration("RECORDER_MARK_LEASE", "2 seconds"),
  database: databaseSettings,
  databaseTimeouts: Config.all({
    connect: duration("DB_CONNECT_TIMEOUT", "5 seconds"),
    statement: duration("DB_STATEMENT_TIMEOUT", "10 seconds")
  }),
  otlpEndpoint: Config.option(httpUrl("OTEL_EXPORTER_OTLP_ENDPOINT")),
  otlpOptional: Config.Boolean("OTEL_EXPORTER_OTLP_OPTIONAL").pipe(Config.withDefault(false)),
  logLevel: Config.LogLevel("LOG_LEVEL").pipe(Config.withDefault("Info"))
})

export class AppConfig extends Context.Service<AppConfig, AppSettings>()("app/config/AppConfig") {
  static readonly layerWith = (overrides: Partial<AppSettings>): Layer.Layer<AppConfig, Config.ConfigError> =>
    Layer.effect(
      AppConfig,
      Effect.gen(function*() {
        const settings = yield* appSettings
        return AppConfig.of({ ...settings, ...overrides })
      })
    )

  static readonly layer: Layer.Layer<AppConfig, Config.ConfigError> = AppConfig.layerWith({})

  /** The defaults, as if only the variables in `env` were set, with the given overrides: what tests build on. */
  static readonly layerTest = (
    overrides: Partial<AppSettings> = {},
    env: Readonly<Record<string, string>> = {}
  ): Layer.Layer<AppConfig, Config.ConfigError> =>
    AppConfig.layerWith(overrides).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))
}

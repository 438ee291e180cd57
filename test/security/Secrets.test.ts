import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { sharedDatabaseUrl } from "../support/database.ts"
import { freePort, postPayment, type Running, startNode, waitReady } from "../support/process.ts"
import { fakePostgres } from "./fakePostgres.ts"

const password = "S3cr3t:P@ss/w0rd-7f3a9c"
const encoded = encodeURIComponent(password)

const assertNoSecret = (service: Running) => {
  const output = service.output()
  for (const form of [password, encoded, "7f3a9c"]) assert.notInclude(output, form, output)
}

const urlFor = (port: number | string) => `postgres://postgres:${encoded}@127.0.0.1:${port}/postgres`

type Target = { readonly url: string } | { readonly port: number }

const databaseEnv = (target: Target): Record<string, string> =>
  "url" in target
    ? { DATABASE_URL: target.url }
    : { DB_HOST: "127.0.0.1", DB_PORT: String(target.port), DB_PASSWORD: password }

/** `node src/main.ts` at LOG_LEVEL=All against a database it cannot use; its exit code once it gave up. */
const startFailing = (target: Target) =>
  Effect.gen(function*() {
    const service = yield* startNode("src/main.ts", {
      PORT: String(yield* freePort),
      HOST: "127.0.0.1",
      LOG_LEVEL: "All",
      DB_CONNECT_TIMEOUT: "500 millis",
      ...databaseEnv(target)
    })
    const code = yield* service.exited.pipe(Effect.timeout("30 seconds"))
    return { service, code }
  })

describe("no secret in logs or errors", () => {
  for (const mode of ["DATABASE_URL", "DB_PASSWORD"] as const) {
    const target = (port: number): Target => mode === "DATABASE_URL" ? { url: urlFor(port) } : { port }

    it.live(`${mode}: a database that refuses the connection`, () =>
      Effect.gen(function*() {
        const { code, service } = yield* startFailing(target(yield* freePort))
        assert.notStrictEqual(code, 0)
        assert.include(service.output(), "ECONNREFUSED")
        assertNoSecret(service)
      }).pipe(Effect.scoped), { timeout: 40_000 })

    it.live(`${mode}: a database that accepts and never answers`, () =>
      Effect.gen(function*() {
        const silent = yield* fakePostgres("silent")
        const { code, service } = yield* startFailing(target(silent.port))
        assert.notStrictEqual(code, 0)
        assert.include(service.output(), "timed out")
        assertNoSecret(service)
      }).pipe(Effect.scoped), { timeout: 40_000 })

    it.live(`${mode}: a database that rejects the password`, () =>
      Effect.gen(function*() {
        const server = yield* fakePostgres("rejecting")
        const { code, service } = yield* startFailing(target(server.port))
        assert.notStrictEqual(code, 0)
        assert.include(service.output(), "password authentication failed")
        assert.deepStrictEqual(server.passwords(), [password], "the service did send the password it holds")
        assertNoSecret(service)
      }).pipe(Effect.scoped), { timeout: 40_000 })
  }

  it.live("DATABASE_URL: a URL that cannot be parsed", () =>
    Effect.gen(function*() {
      const { code, service } = yield* startFailing({ url: urlFor("not-a-port") })
      assert.notStrictEqual(code, 0)
      assert.include(service.output(), "Invalid connection URL")
      assertNoSecret(service)
    }).pipe(Effect.scoped), { timeout: 40_000 })

  it.live("DATABASE_URL: a service that runs, takes a payment and shuts down", () =>
    Effect.gen(function*() {
      const url = new URL(yield* sharedDatabaseUrl)
      url.password = encoded
      const port = yield* freePort
      const service = yield* startNode("src/main.ts", {
        PORT: String(port),
        HOST: "127.0.0.1",
        LOG_LEVEL: "All",
        DATABASE_URL: url.toString()
      })
      yield* waitReady(port, service)
      assert.strictEqual(yield* postPayment(port, crypto.randomUUID()), 202)
      service.child.kill("SIGTERM")
      assert.strictEqual(yield* service.exited.pipe(Effect.timeout("30 seconds")), 0, service.output())
      assert.include(service.output(), "\"level\":\"DEBUG\"", "the output holds everything down to debug")
      assertNoSecret(service)
    }).pipe(Effect.scoped), { timeout: 90_000 })
})

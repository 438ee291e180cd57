import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { postPayment } from "../support/process.ts"
import { startService } from "../support/service.ts"

describe("shutdown", () => {
  it.live(
    "on SIGTERM the service stops accepting, forwards everything it had queued, and exits 0",
    () =>
      Effect.gen(function*() {
        const { port, service, primary, secondary } = yield* startService({
          PAYMENT_WORKERS: "4",
          SHUTDOWN_GRACE: "20 seconds"
        })
        yield* primary.setDelay(100)

        const ids = Array.from({ length: 200 }, () => crypto.randomUUID())
        const statuses = yield* Effect.forEach(ids, (id) => postPayment(port, id), { concurrency: 20 })
        assert.isTrue(statuses.every((s) => s === 202))
        const before = (yield* primary.summary()).totalRequests + (yield* secondary.summary()).totalRequests
        assert.isBelow(before, 200, "a backlog is still queued: 4 workers at 100 ms each")

        service.child.kill("SIGTERM")
        yield* Effect.sleep("300 millis")
        assert.isNull(service.child.exitCode, "still draining")
        const duringDrain = yield* Effect.result(
          postPayment(port, crypto.randomUUID()).pipe(Effect.timeout("2 seconds"))
        )
        assert.strictEqual(duringDrain._tag, "Failure", "the server stopped accepting before the drain")
        const code = yield* service.exited.pipe(Effect.timeout("30 seconds"))
        assert.strictEqual(code, 0, service.output())

        const after = (yield* primary.summary()).totalRequests + (yield* secondary.summary()).totalRequests
        assert.strictEqual(after, 200, "every accepted payment reached a processor before the exit")
        assert.include(service.output(), "payment queue drained")
      }).pipe(Effect.scoped),
    { timeout: 90_000 }
  )
})

import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseLive } from "../../src/database/Database.ts"
import type { RecordedPayment } from "../../src/payments/Payment.ts"
import { PaymentRepository } from "../../src/payments/PaymentRepository.ts"
import { backendName, configWithIsolatedDatabase } from "../support/database.ts"

const id = (n: number) => `9a8b7c6d-5e4f-4a3b-8c2d-${String(n).padStart(12, "0")}`
const at = (ms: number) => new Date(Date.parse("2025-08-20T12:00:00.000Z") + ms)
const row = (n: number, amount: number, processor: "default" | "fallback", ms: number): RecordedPayment => ({
  correlationId: id(n),
  amount,
  processor,
  requestedAt: at(ms)
})

const SqlRepository = PaymentRepository.layer.pipe(
  Layer.provideMerge(DatabaseLive),
  Layer.provide(configWithIsolatedDatabase())
)

const contract = (name: string, repositoryLayer: Layer.Layer<PaymentRepository, unknown>) =>
  describe(`PaymentRepository (${name})`, () => {
    layer(repositoryLayer, { timeout: "60 seconds" })((it) => {
      it.effect("stores a batch once and ignores correlationIds it already holds", () =>
        Effect.gen(function*() {
          const repository = yield* PaymentRepository
          yield* repository.purge
          const written = yield* repository.insertMany([row(1, 20.05, "default", 0), row(2, 20.05, "fallback", 1)])
          assert.deepStrictEqual(written.map((p) => p.correlationId), [id(1), id(2)])
          const again = yield* repository.insertMany([row(2, 20.05, "default", 5), row(3, 1, "default", 2)])
          assert.deepStrictEqual(again.map((p) => p.correlationId), [id(3)], "only the new row is written")
          const summary = yield* repository.summary({})
          assert.deepStrictEqual(summary, {
            default: { totalRequests: 2, totalAmount: 21.05 },
            fallback: { totalRequests: 1, totalAmount: 20.05 }
          })
          assert.deepStrictEqual(yield* repository.insertMany([]), [])
        }))

      it.effect("sums amounts exactly, in one statement for a large batch", () =>
        Effect.gen(function*() {
          const repository = yield* PaymentRepository
          yield* repository.purge
          const rows = Array.from({ length: 1000 }, (_, i) => row(1000 + i, i % 2 === 0 ? 0.1 : 0.2, "default", i))
          assert.strictEqual((yield* repository.insertMany(rows)).length, 1000)
          const summary = yield* repository.summary({})
          assert.strictEqual(summary.default.totalRequests, 1000)
          assert.strictEqual(summary.default.totalAmount, 150, "500 × 0.1 + 500 × 0.2 with no float drift")
          assert.deepStrictEqual(summary.fallback, { totalRequests: 0, totalAmount: 0 })
        }))

      it.effect("filters on requestedAt inclusively, to the millisecond", () =>
        Effect.gen(function*() {
          const repository = yield* PaymentRepository
          yield* repository.purge
          yield* repository.insertMany([
            row(1, 1, "default", 0),
            row(2, 2, "default", 1),
            row(3, 4, "fallback", 2),
            row(4, 8, "fallback", 3)
          ])
          const middle = yield* repository.summary({ from: at(1), to: at(2) })
          assert.deepStrictEqual(middle, {
            default: { totalRequests: 1, totalAmount: 2 },
            fallback: { totalRequests: 1, totalAmount: 4 }
          })
          const point = yield* repository.summary({ from: at(3), to: at(3) })
          assert.deepStrictEqual(point.fallback, { totalRequests: 1, totalAmount: 8 })
          assert.strictEqual(point.default.totalRequests, 0)
          const onlyFrom = yield* repository.summary({ from: at(3) })
          assert.strictEqual(onlyFrom.default.totalRequests + onlyFrom.fallback.totalRequests, 4, "one bound = all")
        }))

      it.effect("as of a moment, leaves out the payments answered after it and counts those of unknown answer", () =>
        Effect.gen(function*() {
          const repository = yield* PaymentRepository
          yield* repository.purge
          yield* repository.insertMany([
            { ...row(1, 1, "default", 0), answeredAt: at(100) },
            { ...row(2, 2, "default", 1), answeredAt: at(200) },
            { ...row(3, 4, "fallback", 2), answeredAt: at(201) },
            row(4, 8, "fallback", 3)
          ])
          const asOf = yield* repository.summary({ from: at(0), to: at(3) }, at(200))
          assert.deepStrictEqual(asOf, {
            default: { totalRequests: 2, totalAmount: 3 },
            fallback: { totalRequests: 1, totalAmount: 8 }
          })
          const all = yield* repository.summary({ from: at(0), to: at(3) })
          assert.strictEqual(all.fallback.totalRequests, 2, "without a moment, every answer counts")
          const unbounded = yield* repository.summary({}, at(150))
          assert.deepStrictEqual(unbounded.default, { totalRequests: 1, totalAmount: 1 })
        }))

      it.effect("purge empties the store and ping answers", () =>
        Effect.gen(function*() {
          const repository = yield* PaymentRepository
          yield* repository.insertMany([row(77, 3, "default", 0)])
          yield* repository.purge
          const summary = yield* repository.summary({})
          assert.strictEqual(summary.default.totalRequests + summary.fallback.totalRequests, 0)
          yield* repository.ping
        }))
    })
  })

contract(backendName, SqlRepository)

describe(`PaymentRepository marks (${backendName})`, () => {
  layer(SqlRepository, { timeout: "60 seconds" })((it) => {
    it.effect("publishes a recorder's mark alone, or in the statement that stores payments", () =>
      Effect.gen(function*() {
        const repository = yield* PaymentRepository
        const sql = yield* SqlClient.SqlClient
        const markOf = (recorder: string) =>
          sql<{ readonly instance: string; readonly through: number; readonly alive_ms: number }>`
            SELECT instance, (extract(epoch from written_through) * 1000)::float8 AS through,
                   (extract(epoch from alive_until - now()) * 1000)::float8 AS alive_ms
            FROM recorder_marks WHERE recorder = ${recorder}`
        const mark = (writtenThrough: number) => ({
          recorder: "r-1",
          instance: "a",
          writtenThrough: at(writtenThrough),
          aliveForMillis: 2000
        })

        yield* repository.publishMark(mark(0))
        const [alone] = yield* markOf("r-1")
        assert.strictEqual(alone.through, at(0).getTime())
        assert.isTrue(alone.alive_ms > 1000 && alone.alive_ms <= 2000, String(alone.alive_ms))

        const written = yield* repository.insertMany([row(90, 1, "default", 0), row(91, 2, "fallback", 0)], mark(500))
        assert.strictEqual(written.length, 2)
        const [carried] = yield* markOf("r-1")
        assert.strictEqual(carried.through, at(500).getTime(), "the insert moved the mark")
        assert.strictEqual((yield* repository.summary({})).fallback.totalRequests, 1)

        yield* repository.insertMany([], mark(700))
        assert.strictEqual((yield* markOf("r-1"))[0].through, at(700).getTime(), "nothing to store: the mark alone")
        yield* sql`DELETE FROM recorder_marks WHERE recorder = 'r-1'`
      }))
  })
})
contract("in memory", PaymentRepository.layerTest)

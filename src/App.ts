import { Layer } from "effect"
import { HttpServerLive } from "./Api.ts"
import { DatabaseLive } from "./database/Database.ts"
import { QueryMetricsLive } from "./database/QueryMetrics.ts"
import { Metrics } from "./observability/Metrics.ts"
import { DrainRate } from "./payments/DrainRate.ts"
import { PaymentForwarder } from "./payments/PaymentForwarder.ts"
import { PaymentIntake } from "./payments/PaymentIntake.ts"
import { PaymentQueue } from "./payments/PaymentQueue.ts"
import { PaymentRecorder } from "./payments/PaymentRecorder.ts"
import { PaymentRepository } from "./payments/PaymentRepository.ts"
import { PaymentWorkers } from "./payments/PaymentWorkers.ts"
import { PeerRecorders } from "./payments/PeerRecorders.ts"
import { ProcessorGateway } from "./processors/ProcessorGateway.ts"
import { ProcessorHealth } from "./processors/ProcessorHealth.ts"

/** The services the HTTP routes and the workers share: one queue, one recorder, one database pool. */
export const ServicesLive = Layer.mergeAll(PaymentForwarder.layer, PeerRecorders.layer).pipe(
  Layer.provideMerge(PaymentRecorder.layer),
  Layer.provide(Layer.merge(ProcessorHealth.layer, DrainRate.layer)),
  Layer.provide(ProcessorGateway.layer),
  Layer.provideMerge(PaymentIntake.layer),
  Layer.provideMerge(PaymentQueue.layer),
  Layer.provideMerge(PaymentRepository.layer),
  Layer.provideMerge(DatabaseLive),
  Layer.provideMerge(QueryMetricsLive),
  Layer.provideMerge(Metrics.layer)
)

/**
 * The whole service, given its configuration. The workers start before the server and stop after it, so on
 * shutdown the server stops accepting first and the workers then drain the queue.
 */
export const AppLive = HttpServerLive.pipe(
  Layer.provide(PaymentWorkers),
  Layer.provide(ServicesLive)
)

import { type Context, Layer } from "effect"

/**
 * A test Layer for a service from a partial implementation. Touching anything not given throws at once, naming
 * the service and member, so a test fails loudly when the code under test calls what the test did not expect.
 */
export const stub = <I, S extends object>(service: Context.Service<I, S>, implementation: Partial<S>): Layer.Layer<I> =>
  Layer.succeed(
    service,
    new Proxy(implementation, {
      get(target, property, receiver) {
        if (property in target || typeof property === "symbol") return Reflect.get(target, property, receiver)
        throw new Error(`Unexpected call: ${service.key}.${property} is not stubbed in this test`)
      }
    }) as S
  )

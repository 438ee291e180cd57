import { Effect, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"

export { freePort } from "../../tools/process/Processes.ts"

export interface Running {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Effect.Effect<number | null>
  /** Resolves once the process exited and its output was all read. */
  readonly closed: Effect.Effect<void>
}

/** A spawned process whose output is collected; it is killed when the scope closes. */
export const collectOutput = (spawnChild: () => ChildProcess) =>
  Effect.acquireRelease(
    Effect.sync((): Running => {
      const child = spawnChild()
      let output = ""
      child.stdout?.on("data", (chunk) => output += String(chunk))
      child.stderr?.on("data", (chunk) => output += String(chunk))
      const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      const close = new Promise<void>((resolve) => child.on("close", () => resolve()))
      return { child, output: () => output, exited: Effect.promise(() => exit), closed: Effect.promise(() => close) }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

/** Runs `node <script>` with the given environment; the process is killed when the scope closes. */
export const startNode = (script: string, env: Record<string, string>, args: ReadonlyArray<string> = []) =>
  collectOutput(() =>
    spawn(process.execPath, [script, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
  )

/** POST /payments of 20.05 to a service process on `port`; the HTTP status. */
export const postPayment = (port: number, correlationId: string) =>
  Effect.tryPromise(() =>
    fetch(`http://127.0.0.1:${port}/payments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ correlationId, amount: 20.05 })
    }).then((response) => response.status)
  )

/**
 * Waits until the service process on `port` answers GET /ready with 2xx; dies with its output if it never does,
 * all of it when the process exited (its last words on stderr can arrive after the exit).
 */
export const waitReady = (port: number, service: Running) => {
  const alive = () => service.child.exitCode === null && service.child.signalCode === null
  const startedAt = performance.now()
  return Effect.tryPromise(() =>
    fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok ? r.status : Promise.reject(r.status))
  ).pipe(
    Effect.retry({ schedule: Schedule.spaced("200 millis"), while: alive }),
    Effect.timeout("60 seconds"),
    Effect.catch(() =>
      // a process still running has nothing more to say: only an exited one's output is waited for
      (alive()
        ? Effect.void
        : Effect.ignore(Effect.timeout(service.closed, "5 seconds"))).pipe(
          Effect.andThen(() =>
            Effect.die(
              new Error(
                `not ready after ${
                  ((performance.now() - startedAt) / 1000).toFixed(1)
                } s (exit code ${service.child.exitCode}, signal ${service.child.signalCode}): ${service.output()}`
              )
            )
          )
        )
    )
  )
}

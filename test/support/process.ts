import { Effect, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"

export { freePort } from "../../tools/process/Processes.ts"

export interface Running {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Effect.Effect<number | null>
}

/** Runs `node <script>` with the given environment; the process is killed when the scope closes. */
export const startNode = (script: string, env: Record<string, string>, args: ReadonlyArray<string> = []) =>
  Effect.acquireRelease(
    Effect.sync((): Running => {
      const child = spawn(process.execPath, [script, ...args], {
        env: { PATH: process.env.PATH ?? "", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout.on("data", (chunk) => output += String(chunk))
      child.stderr.on("data", (chunk) => output += String(chunk))
      const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      return { child, output: () => output, exited: Effect.promise(() => exit) }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
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

/** Waits until the service process on `port` answers GET /ready with 2xx; dies with its output if it never does. */
export const waitReady = (port: number, service: Running) =>
  Effect.tryPromise(() =>
    fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok ? r.status : Promise.reject(r.status))
  ).pipe(
    Effect.retry({ schedule: Schedule.spaced("200 millis"), while: () => service.child.exitCode === null }),
    Effect.timeout("60 seconds"),
    Effect.catch(() => Effect.die(new Error(`not ready: ${service.output()}`)))
  )

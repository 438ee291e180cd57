import { defineConfig } from "vitest/config"

/**
 * `pnpm test:fast`: unit tests and in-process HTTP tests (loopback servers, the embedded PGlite); no child
 * process, no bundle, no tool beyond Node, no test that waits out real leases or intervals (ProcessorHealth's
 * election takes 20 s). Everything else is `slow`; `pnpm test` runs both.
 */
const fast = [
  "test/config/**/*.test.ts",
  "test/database/**/*.test.ts",
  "test/http/**/*.test.ts",
  "test/payments/**/*.test.ts",
  "test/processors/ProcessorGateway.test.ts",
  "test/routing/**/*.test.ts",
  "test/scripts/import-graph.test.ts",
  "test/security/DatabaseTimeouts.test.ts",
  "test/security/MetricsPort.test.ts",
  "test/tools/simulator/**/*.test.ts"
]

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: "fast", include: fast } },
      {
        extends: true,
        test: {
          name: "slow",
          include: ["test/**/*.test.ts"],
          exclude: fast,
          // the Dockerfile's runtime stage and the arena run dist/main.js
          globalSetup: ["test/support/bundle.ts"]
        }
      }
    ]
  }
})

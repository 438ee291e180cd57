import { defineConfig } from "vitest/config"

/**
 * Tests that start processes, need the bundle or a tool beyond Node (nginx, Chromium, promtool), or wait out real
 * leases and intervals (ProcessorHealth's election takes 20 s). Every other test is `fast`: unit tests and
 * in-process HTTP tests on loopback servers and the embedded PGlite, `pnpm test:fast`. `pnpm test` runs both.
 */
const slow = [
  "test/e2e/**",
  "test/http/NodeHttp.test.ts",
  "test/infra/**",
  "test/tools/arena/**",
  "test/tools/faults/**",
  "test/tools/process/PgliteServer.test.ts",
  "test/observability/Tracing.test.ts",
  "test/processors/ProcessorHealth.test.ts",
  "test/scripts/builtins-plugin.test.ts",
  "test/scripts/gen-module.test.ts",
  "test/security/AdminEndpoints.test.ts",
  "test/security/Secrets.test.ts"
]

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: "fast", include: ["test/**/*.test.ts"], exclude: slow } },
      {
        extends: true,
        test: {
          name: "slow",
          include: slow.map((pattern) => pattern.endsWith("**") ? `${pattern}/*.test.ts` : pattern),
          // the Dockerfile's runtime stage and the arena run dist/main.js
          globalSetup: ["test/support/bundle.ts"]
        }
      }
    ]
  }
})

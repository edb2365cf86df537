import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources; the built packages are checked by the e2e, the demo and the runtime tests.
    alias: [
      { find: /^@bimux\/core\/testing$/, replacement: src("./packages/core/src/testing.ts") },
      { find: /^@bimux\/core\/transport$/, replacement: src("./packages/core/src/transport/index.ts") },
      { find: /^@bimux\/core$/, replacement: src("./packages/core/src/index.ts") },
      { find: /^@bimux\/node$/, replacement: src("./packages/node/src/index.ts") },
      { find: /^@bimux\/cli$/, replacement: src("./packages/cli/src/index.ts") },
      { find: /^@bimux\/browser$/, replacement: src("./packages/browser/src/index.ts") },
      { find: /^@bimux\/services$/, replacement: src("./packages/services/src/index.ts") },
      { find: /^@bimux\/services\/contract$/, replacement: src("./packages/services/src/contract-only.ts") },
      { find: /^@bimux\/nats$/, replacement: src("./packages/nats/src/index.ts") },
    ],
  },
  test: {
    testTimeout: 20_000,
    include: ["packages/*/test/**/*.test.ts", "examples/test/**/*.test.ts"],
  },
});

import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vitest/config";

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** Core with the page's timers, as its `browser` build has them (see packages/core/src/timers.ts). */
const browserTimers: Plugin = {
  name: "bimux-browser-timers",
  enforce: "pre",
  resolveId(source, importer) {
    if (source === "./timers.js" && importer?.includes("/packages/core/src/")) return src("./packages/core/src/timers.browser.ts");
  },
};

export default defineConfig({
  resolve: {
    // Tests run against the sources; the built packages are checked by the e2e and the demo.
    alias: [
      { find: /^@bimux\/core\/testing$/, replacement: src("./packages/core/src/testing.ts") },
      { find: /^@bimux\/core\/internal$/, replacement: src("./packages/core/src/internal.ts") },
      { find: /^@bimux\/core$/, replacement: src("./packages/core/src/index.ts") },
      { find: /^@bimux\/node$/, replacement: src("./packages/node/src/index.ts") },
      { find: /^@bimux\/browser$/, replacement: src("./packages/browser/src/index.ts") },
      { find: /^@bimux\/services$/, replacement: src("./packages/services/src/index.ts") },
      { find: /^@bimux\/services\/contract$/, replacement: src("./packages/services/src/contract-only.ts") },
    ],
  },
  test: {
    testTimeout: 20_000,
    projects: [
      { extends: true, test: { name: "server timers", include: ["packages/*/test/**/*.test.ts"] } },
      {
        extends: true,
        plugins: [browserTimers],
        // Everything a page runs: the muxer's and the browser package's tests again, on the page's timers.
        test: {
          name: "browser timers",
          include: ["packages/core/test/{muxer,extensions,reconnect,robustness}.test.ts", "packages/browser/test/**/*.test.ts"],
        },
      },
    ],
  },
});

import { fileURLToPath } from "node:url";
import { defineConfig, type Options } from "tsup";

const shared: Options = {
  format: ["esm", "cjs"],
  sourcemap: true,
  target: "es2022",
  tsconfig: "tsconfig.json",
};

/** The page's timers (src/timers.browser.ts) in place of the server's wheel: see src/timers.ts. */
const browserTimers = {
  name: "bimux-browser-timers",
  setup(build: { onResolve(options: { filter: RegExp }, callback: () => { path: string }): void }) {
    const path = fileURLToPath(new URL("./src/timers.browser.ts", import.meta.url));
    build.onResolve({ filter: /^\.\/timers\.js$/ }, () => ({ path }));
  },
};

export default defineConfig([
  { ...shared, entry: ["src/index.ts", "src/testing.ts"], dts: { compilerOptions: { stripInternal: true } }, clean: ["!index.browser.*"] },
  // What the `browser` export condition gives bundlers that build for a page.
  { ...shared, format: ["esm"], entry: { "index.browser": "src/index.ts" }, platform: "browser", esbuildPlugins: [browserTimers] },
]);

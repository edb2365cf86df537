import { defineConfig, type Options } from "tsup";

const shared: Options = {
  format: ["esm", "cjs"],
  sourcemap: true,
  target: "es2022",
  tsconfig: "tsconfig.json",
  // Each entry whole: the two builds below would otherwise write shared chunks of the same name.
  splitting: false,
  // Shared with the application: one core (one BimuxError), one protobuf runtime for its generated code too.
  external: ["@bimux/core", "@bimux/browser", "@bufbuild/protobuf"],
};

/**
 * In a page, the BimuxError that @bimux/browser (which has core compiled in) already ships:
 * importing @bimux/core there would bundle a second core next to it. Both are core's public
 * API, the same class by its brand.
 */
const coreFromBrowser = {
  name: "bimux-core-from-browser",
  setup(build: { onResolve(options: { filter: RegExp }, callback: () => { path: string; external: true }): void }) {
    build.onResolve({ filter: /^@bimux\/core$/ }, () => ({ path: "@bimux/browser", external: true }));
  },
};

export default defineConfig([
  {
    ...shared,
    entry: { index: "src/index.ts", contract: "src/contract-only.ts" },
    dts: { compilerOptions: { stripInternal: true } },
    clean: ["!*.browser.*"],
  },
  // What the `browser` export condition gives bundlers that build for a page.
  {
    ...shared,
    format: ["esm"],
    entry: { "index.browser": "src/index.ts", "contract.browser": "src/contract-only.ts" },
    platform: "browser",
    external: ["@bimux/browser", "@bufbuild/protobuf"],
    noExternal: ["@bimux/core"],
    esbuildPlugins: [coreFromBrowser],
  },
]);

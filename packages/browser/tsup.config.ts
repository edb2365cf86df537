import { defineConfig } from "tsup";
// @ts-expect-error: a plain ES module, shared with scripts/size.mjs
import { mangleProps } from "./mangle.mjs";

// Core is inlined in every output: a page gets one self-contained file, and the
// package has no runtime dependency whose version could drift from the one tested.
const shared = {
  sourcemap: true,
  target: "es2022",
  tsconfig: "tsconfig.json",
  noExternal: ["@bimux/core"],
  // Resolves core through its `browser` export condition: the page's timers.
  platform: "browser",
  esbuildOptions(options: { mangleProps?: RegExp }) {
    options.mangleProps = mangleProps;
  },
} as const;

export default defineConfig([
  {
    ...shared,
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    // Core's types are inlined from its sources: its built d.ts share a chunk file this package does not ship.
    dts: { resolve: ["@bimux/core"], compilerOptions: { paths: { "@bimux/core": ["../core/src/index.ts"] } } },
    // Both builds run at once: this one's clean must spare the other's output.
    clean: ["!bimux.global.js*"],
  },
  {
    ...shared,
    // For a <script> tag without a bundler: everything on `window.bimux`.
    entry: { bimux: "src/index.ts" },
    format: ["iife"],
    globalName: "bimux",
    minify: true,
  },
]);

import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    clean: ["!bimux.global.js*"],
    sourcemap: true,
    target: "es2022",
    tsconfig: "tsconfig.json",
    platform: "browser",
    // Core stays a dependency, as any package's: one Muxer and one BimuxError for the page and the server.
    external: ["@bimux/core"],
  },
  {
    // For a <script> tag without a bundler: everything on `window.bimux`, core included.
    entry: { bimux: "src/index.ts" },
    format: ["iife"],
    globalName: "bimux",
    minify: true,
    sourcemap: true,
    target: "es2022",
    tsconfig: "tsconfig.json",
    platform: "browser",
    noExternal: ["@bimux/core"],
  },
]);

import { defineConfig } from "tsup";

export default defineConfig([
  {
    // The dashboard and `run`, for applications: ESM and CJS with types.
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    clean: true,
    sourcemap: true,
    target: "node20",
    tsconfig: "tsconfig.json",
    // import.meta.url in the CJS build too: the dashboard finds @bimux/browser's script build with it.
    shims: true,
    external: ["@bimux/core", "@bimux/node", "@bimux/browser"],
  },
  {
    // The `bimux` executable: ESM only (top-level await), its shebang kept.
    entry: { bin: "src/bin.ts" },
    format: ["esm"],
    sourcemap: true,
    target: "node20",
    tsconfig: "tsconfig.json",
    external: ["@bimux/core", "@bimux/node", "@bimux/browser"],
  },
]);

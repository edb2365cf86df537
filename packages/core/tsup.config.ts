import { defineConfig } from "tsup";

export default defineConfig({
  // The API, what transports build on, and the in-memory pair for tests: three entry points.
  entry: { index: "src/index.ts", transport: "src/transport/index.ts", testing: "src/testing.ts" },
  format: ["esm", "cjs"],
  // Shared chunks in the CJS build too (esbuild splits only ESM by default): otherwise each
  // CJS entry point has its own Muxer and BimuxError, and \`instanceof\` fails across them.
  splitting: true,
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  sourcemap: true,
  target: "es2022",
  tsconfig: "tsconfig.json",
});

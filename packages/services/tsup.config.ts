import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", contract: "src/contract-only.ts" },
  format: ["esm", "cjs"],
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  sourcemap: true,
  target: "es2022",
  tsconfig: "tsconfig.json",
  // Shared with the application: one core (one BimuxError, in a page too: @bimux/browser re-exports
  // core's), one protobuf runtime for its generated code too.
  external: ["@bimux/core", "@bufbuild/protobuf"],
});

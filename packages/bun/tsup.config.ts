import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: true,
  // Bun runs ES2022 and newer; "bun" is imported for its types only, so nothing of it is bundled.
  target: "es2022",
  tsconfig: "tsconfig.json",
  // Core stays a dependency, not inlined, so every package shares one Muxer class.
  external: ["@bimux/core", "bun"],
});

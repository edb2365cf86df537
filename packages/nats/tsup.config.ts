import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
  tsconfig: "tsconfig.json",
  // Core stays a dependency, not inlined, so that the cluster and the server (of @bimux/node or
  // @bimux/bun, which it does not import) share one Muxer class.
  external: ["@bimux/core", "@nats-io/transport-node"],
});

import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
  tsconfig: "tsconfig.json",
  // The bimux packages stay dependencies, not inlined, so that the cluster and the server share one Muxer class.
  external: ["@bimux/core", "@bimux/node", "@nats-io/transport-node"],
});

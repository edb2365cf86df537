#!/usr/bin/env node
// The `bimux` executable. A file of its own, outside dist/, so that it exists when
// pnpm links workspace bins at install time, before the first build.
import("../dist/bin.js").catch((error) => {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist")) {
    console.error("bimux: @bimux/cli is not built yet: run `pnpm run build` at the repository's root");
    process.exit(1);
  }
  throw error;
});

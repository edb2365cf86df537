// The browser budget: what `import { dial } from "@bimux/browser"` costs a page,
// bundled the way an application's bundler ships it for production (the published
// ESM build, resolved through the package's exports with the `production` condition
// that Vite and webpack set, minified, tree-shaken, gzipped). Also prints the build a
// bundler without that condition gets (every message's text in full), and guards it.
// Exits non-zero past either limit. Run after `pnpm run build`.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { INTERNAL_NAMES } from "../packages/browser/mangle.mjs";

/** The budget of issue 3 for dial and the muxer it returns, gzipped, as a production bundle has them. */
const BUDGET = 5 * 1024;
/** What the default build (full message text) may not grow past: its size on 2026-11-25 rounded up. */
const CEILING = 5.375 * 1024;
/** Code that must never reach a page: the generated protobuf types and their runtime. */
const FORBIDDEN = [/\/src\/gen\//, /@bufbuild\//];

const browser = fileURLToPath(new URL("../packages/browser/", import.meta.url));
if (!existsSync(`${browser}dist/index.js`)) {
  console.error("size: packages/browser/dist is missing; run `pnpm run build` first");
  process.exit(1);
}

const bundle = (minify, conditions = ["production"]) =>
  build({
    // Resolved from inside the package, so "@bimux/browser" goes through its own exports map.
    stdin: { contents: 'export { dial } from "@bimux/browser";', resolveDir: browser, sourcefile: "app.js" },
    bundle: true,
    minify,
    format: "esm",
    platform: "browser",
    // What Vite and webpack resolve when they build for production; a bundler that
    // sets no such condition gets the default build, printed below too.
    conditions,
    target: "es2022",
    write: false,
    logLevel: "error",
  }).then((result) => result.outputFiles[0].contents);

const raw = (await bundle(false)).length;
const minified = await bundle(true);
const gzipped = gzipSync(minified, { level: 9 }).length;
const full = gzipSync(await bundle(true, []), { level: 9 }).length;
console.log(`@bimux/browser { dial }, production: raw ${raw} B, minified ${minified.length} B, gzipped ${gzipped} B (budget ${BUDGET} B)`);
console.log(`@bimux/browser { dial }, default build (messages in full): gzipped ${full} B (ceiling ${CEILING} B)`);

// The builds' source maps name every module tsup put into them.
const forbidden = ["index.js.map", "index.production.js.map"]
  .flatMap((map) => JSON.parse(readFileSync(`${browser}dist/${map}`, "utf8")).sources)
  .filter((source) => FORBIDDEN.some((pattern) => pattern.test(source)));
if (forbidden.length > 0) {
  console.error(`size: the browser build contains code a page must never get: ${forbidden.join(", ")}`);
  process.exit(1);
}
// The build shortens these property names everywhere: none may be part of the package's API.
const types = readFileSync(`${browser}dist/index.d.ts`, "utf8");
const exposed = INTERNAL_NAMES.filter((name) => new RegExp(`^\\s+(readonly\\s+)?((get|set)\\s+)?${name}\\??\\s*[:(]`, "m").test(types));
if (exposed.length > 0) {
  console.error(`size: the browser build mangles names its API exposes: ${exposed.join(", ")} (packages/browser/mangle.mjs)`);
  process.exit(1);
}
if (gzipped > BUDGET) {
  console.error(`size: the production build is ${gzipped - BUDGET} B over the ${BUDGET} B budget (issue 3)`);
  process.exit(1);
}
if (full > CEILING) {
  console.error(`size: the default build is ${full - CEILING} B over its ${CEILING} B ceiling: something grew the browser bundle`);
  process.exit(1);
}

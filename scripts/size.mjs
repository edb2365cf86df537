// The browser budget: what a page pays for bimux, measured as plainly as an application's
// bundler ships it: `esbuild --bundle --minify` of an import from the built `@bimux/browser`
// (resolved through its exports map, its default browser entry), then gzip -9. No plugin,
// no property mangling, no build condition: the budget comes from the code.
// Each import has a budget (the target of issue 12, not met yet: the figures are printed with
// the gap) and a ceiling a little above today's size, past which it fails: the page must not
// grow while the budget is worked towards. Run after `pnpm run build`.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { measurePage } from "./page-size.mjs";

/** What each import should cost a page, gzipped (issue 12), and what it may not grow past (today's size, rounded up). */
const BUDGETS = [
  { names: "dial", budget: 5 * 1024, ceiling: 7050 },
  { names: "dial, dialReconnecting", budget: 6 * 1024, ceiling: 8250 },
];
/** Code that must never reach a page: the generated protobuf types and their runtime, Node's ws. */
const FORBIDDEN = [/\/src\/gen\//, /@bufbuild\//, /node_modules\/ws\//, /node:/];

const browser = fileURLToPath(new URL("../packages/browser/", import.meta.url));
if (!existsSync(`${browser}dist/index.js`)) {
  console.error("size: packages/browser/dist is missing; run `pnpm run build` first");
  process.exit(1);
}

let failed = false;
for (const { names, budget, ceiling } of BUDGETS) {
  // Resolved from inside the package, so "@bimux/browser" goes through its own exports map.
  const { minified, gzipped, metafile } = await measurePage({ contents: `export { ${names} } from "@bimux/browser";`, resolveDir: browser });
  const inputs = Object.keys(metafile.inputs);
  const bad = inputs.filter((input) => FORBIDDEN.some((pattern) => pattern.test(input)));
  const gap = gzipped > budget ? `, ${gzipped - budget} B over budget` : "";
  console.log(`@bimux/browser { ${names} }: minified ${minified.length} B, gzipped ${gzipped} B (budget ${budget} B${gap}; ceiling ${ceiling} B)`);
  if (bad.length > 0) {
    console.error(`size: the page bundle contains code a page must never get: ${bad.join(", ")}`);
    failed = true;
  }
  if (gzipped > ceiling) {
    console.error(`size: { ${names} } grew past its ${ceiling} B ceiling (${gzipped} B): something made the page bigger`);
    failed = true;
  }
}
if (failed) process.exit(1);

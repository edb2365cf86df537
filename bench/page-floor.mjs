// What a page would pay for bimux without each of its features: the evidence behind the
// page budget of issue 12 (bench/RESULTS.md, "Page size"). Copies the sources of
// @bimux/core and @bimux/browser into a temporary directory, applies the patches of
// bench/page-floor/ one after another (each takes a feature's code out, cumulatively: a
// patch assumes the ones before it), and after each step bundles `{ dial }` and
// `{ dial, dialReconnecting }` as `npm run size` does (esbuild --bundle --minify, esm,
// browser, es2022; gzip -9), but from the sources. Never touches the repository's files.
//
//   node bench/page-floor.mjs
//
// The patches are made against the commit named in RESULTS.md; when the sources have moved
// on since, a patch that no longer applies is reported and the run stops there.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { measurePage } from "../scripts/page-size.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const patches = fileURLToPath(new URL("./page-floor/", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "bimux-page-floor-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
for (const part of ["packages/core/src", "packages/browser/src"]) cpSync(join(root, part), join(work, part), { recursive: true });

/** gzip -9 sizes of the page bundle, built from the copy in its present state. */
async function measure() {
  const sizes = [];
  for (const names of ["dial", "dial, dialReconnecting"]) {
    // The copy's core, as the package names resolve in the repository's vitest config.
    const alias = { "@bimux/core/transport": join(work, "packages/core/src/transport/index.ts"), "@bimux/core": join(work, "packages/core/src/index.ts") };
    const { gzipped } = await measurePage({ contents: `export { ${names} } from "./packages/browser/src/index.ts";`, resolveDir: work, alias });
    sizes.push(gzipped);
  }
  return sizes;
}

const [dial0, both0] = await measure();
let [lastDial, lastBoth] = [dial0, both0];
console.log("| step | taken out | `{ dial }` gz | `{ dial, dialReconnecting }` gz | step's saving |");
console.log("| --- | --- | ---: | ---: | ---: |");
console.log(`| – | nothing (the sources as they are) | ${dial0} | ${both0} | – |`);
for (const file of readdirSync(patches).filter((name) => name.endsWith(".patch")).sort()) {
  try {
    execFileSync("git", ["apply", "--whitespace=nowarn", join(patches, file)], { cwd: work, stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    console.error(`page-floor: ${file} does not apply to today's sources (${String(error.stderr).trim()}); remake the patches`);
    process.exit(1);
  }
  const [dial, both] = await measure();
  const [step, ...words] = file.replace(/\.patch$/, "").split("-");
  console.log(`| ${step} | ${words.join(" ")} | ${dial} | ${both} | ${lastDial - dial} / ${lastBoth - both} |`);
  [lastDial, lastBoth] = [dial, both];
}
console.log(`\nbudget: { dial } 5120 B, { dial, dialReconnecting } 6144 B`);

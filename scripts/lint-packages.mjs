// Checks every published package as npm would ship it: publint (package.json against
// the files in the tarball) and @arethetypeswrong/cli (types under node10, node16 CJS and
// ESM, and bundler resolution), each on the packed tarball. Run by `pnpm run lint:packages`
// after a build, and by `check`.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(root, "node_modules", ".bin", name);

/**
 * attw runs per package; an entry may run it on a part of the package with rules of its own.
 * @bimux/browser's `bimux.global.js` is a classic `<script>` (an IIFE that sets `window.bimux`),
 * not a module: it has types (types/bimux.global.d.ts), but `require` of it from CommonJS is
 * meaningless, so that one entry point, and no other, is checked without `cjs-resolves-to-esm`.
 * @bimux/services exports `options.proto` for users' buf to import: a file, not a module, so attw
 * (which resolves modules) leaves it out.
 */
const ATTW_RUNS = {
  "@bimux/browser": [
    ["--exclude-entrypoints", "bimux.global.js"],
    ["--entrypoints", "bimux.global.js", "--ignore-rules", "cjs-resolves-to-esm"],
  ],
  "@bimux/services": [["--exclude-entrypoints", "proto/bimux/v1/options.proto"]],
};

let failed = 0;
for (const dir of readdirSync(join(root, "packages")).sort()) {
  const cwd = join(root, "packages", dir);
  const { name, private: isPrivate } = JSON.parse(readFileSync(join(cwd, "package.json"), "utf8"));
  if (isPrivate) continue;
  const runs = [[bin("publint"), ["--strict"]], ...(ATTW_RUNS[name] ?? [[]]).map((args) => [bin("attw"), ["--pack", ".", "--no-emoji", "--no-color", ...args]])];
  for (const [command, args] of runs) {
    const label = `${name}: ${command.split("/").pop()} ${args.join(" ")}`;
    try {
      execFileSync(command, args, { cwd, stdio: "pipe", encoding: "utf8" });
      console.log(`ok   ${label}`);
    } catch (error) {
      failed++;
      console.log(`FAIL ${label}\n${error.stdout ?? ""}${error.stderr ?? ""}`);
    }
  }
}
if (failed) {
  console.error(`lint:packages: ${failed} check(s) failed`);
  process.exit(1);
}

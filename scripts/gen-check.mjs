// Fails when the generated protobuf code differs from what `buf generate` makes
// of proto/ now, or when proto/ fails `buf lint`: generated code is never edited by hand.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const buf = (...args) => execFileSync("buf", args, { stdio: "inherit" });
const genDir = "packages/core/src/gen";
const out = mkdtempSync(join(tmpdir(), "bimux-gen-"));

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

try {
  buf("lint");
  buf("generate", "--output", out);
  const fresh = join(out, genDir);
  const expected = files(fresh).map((f) => relative(fresh, f)).sort();
  const actual = files(genDir).map((f) => relative(genDir, f)).sort();
  const stale = [
    ...expected.filter((f) => !actual.includes(f) || readFileSync(join(fresh, f), "utf8") !== readFileSync(join(genDir, f), "utf8")),
    ...actual.filter((f) => !expected.includes(f)),
  ];
  if (stale.length) {
    console.error(`generated code is stale: ${stale.join(", ")}\nrun \`pnpm gen\` and commit the result`);
    process.exit(1);
  }
  console.log(`generated code is up to date (${expected.length} file${expected.length === 1 ? "" : "s"})`);
} finally {
  rmSync(out, { recursive: true, force: true });
}

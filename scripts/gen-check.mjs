// Fails when the generated protobuf code differs from what `buf generate` makes of the
// .proto files now, or when they fail `buf lint`: generated code is never edited by hand.
// One entry per buf.gen template: core's envelope, @bimux/services' options, its test
// services, and the Go code of the interop peer.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const buf = (...args) => execFileSync("buf", args, { stdio: "inherit" });
/** Each template and the directory it generates into (its plugin's `out`). */
const TEMPLATES = [
  { template: "buf.gen.yaml", genDir: "packages/core/src/gen" },
  { template: "packages/services/buf.gen.yaml", genDir: "packages/services/src/gen" },
  { template: "packages/services/test/buf.gen.yaml", genDir: "packages/services/test/gen" },
  // Go, for the interop peer: Debian's protoc-gen-go 1.3 (scripts/env.sh --test installs it).
  { template: "interop/go/buf.gen.options.yaml", genDir: "interop/go/peer/optionspb" },
  { template: "interop/go/buf.gen.demo.yaml", genDir: "interop/go/peer/demopb" },
];

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

// Debian's protoc-gen-go 1.3 makes the Go interop peer's messages: say so rather than let buf fail obscurely.
try {
  execFileSync("protoc-gen-go", ["--version"], { stdio: "ignore" });
} catch (error) {
  if (error.code === "ENOENT") {
    console.error("gen:check needs protoc-gen-go 1.3 for the Go interop peer: apt-get install golang-goprotobuf-dev (scripts/env.sh --test does)");
    process.exit(1);
  }
}
buf("lint");
let count = 0;
const stale = [];
for (const { template, genDir } of TEMPLATES) {
  const out = mkdtempSync(join(tmpdir(), "bimux-gen-"));
  try {
    buf("generate", "--template", template, "--output", out);
    const fresh = join(out, genDir);
    const expected = files(fresh).map((f) => relative(fresh, f)).sort();
    const actual = files(genDir).map((f) => relative(genDir, f)).sort();
    count += expected.length;
    const differ = (f) => !actual.includes(f) || readFileSync(join(fresh, f), "utf8") !== readFileSync(join(genDir, f), "utf8");
    stale.push(...[...expected.filter(differ), ...actual.filter((f) => !expected.includes(f))].map((f) => join(genDir, f)));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
if (stale.length) {
  console.error(`generated code is stale: ${stale.join(", ")}\nrun \`pnpm gen\` and commit the result`);
  process.exit(1);
}
console.log(`generated code is up to date (${count} file${count === 1 ? "" : "s"})`);

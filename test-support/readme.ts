// The "Typed services" walk-through of packages/services/README.md as a newcomer follows it:
// every code block whose info string names a file (```ts file=src/server.ts) is written into
// an empty folder, and the packages it installs are linked there to this repo's built
// packages (`pnpm run build` first, as npm test does). Used by
// packages/services/test/readme.test.ts (buf generate, tsc) and e2e/tests/readme.spec.ts (run).
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const bin = join(repo, "node_modules/.bin");

/** The README's files, by path: the fenced blocks whose info string names one. */
export function readmeFiles(): Map<string, string> {
  const readme = readFileSync(join(repo, "packages/services/README.md"), "utf8");
  const found = new Map<string, string>();
  for (const match of readme.matchAll(/^```\w+ file=(\S+)\n([\s\S]*?)^```$/gm)) found.set(match[1]!, match[2]!);
  return found;
}

/** A folder holding the README's project, and a way to run its commands there. */
export interface ReadmeProject {
  readonly dir: string;
  /** Runs one of the repo's tools (`buf`, `tsc`, `esbuild`: what `npx` finds after the README's install) in the folder. */
  run(tool: "buf" | "tsc" | "esbuild", args: string[]): SpawnSyncReturns<string>;
  /** Deletes the folder. */
  remove(): void;
}

/** Writes the README's files into a new temporary folder and "installs" the packages there. */
export function readmeProject(): ReadmeProject {
  for (const pkg of ["services", "node", "browser", "core"]) {
    if (!existsSync(join(repo, "packages", pkg, "dist/index.d.ts"))) {
      throw new Error(`packages/${pkg}/dist is missing: run \`pnpm run build\` first (npm test does)`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "bimux-readme-"));
  for (const [path, content] of readmeFiles()) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  // `npm init -y && npm pkg set type=module`
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  // What `npm install` puts there, as links to this repo's packages (their own dependencies resolve from there).
  const link = (name: string, target: string) => {
    mkdirSync(dirname(join(dir, "node_modules", name)), { recursive: true });
    symlinkSync(target, join(dir, "node_modules", name), "dir");
  };
  for (const pkg of ["services", "node", "browser"]) link(`@bimux/${pkg}`, join(repo, "packages", pkg));
  link("@bufbuild/protobuf", join(repo, "packages/services/node_modules/@bufbuild/protobuf"));
  link("@types/node", join(repo, "node_modules/@types/node"));
  return {
    dir,
    run: (tool, args) =>
      spawnSync(join(bin, tool), args, { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

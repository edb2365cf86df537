// The README's "Typed services" walk-through, as a newcomer follows it: every code block
// that names a file (```ts file=src/server.ts) is written into an empty folder, the
// packages are installed there as links to this repo's built packages (`pnpm run build`
// first, as `npm test` does), then `buf generate` and `tsc` (strict) run. A copy with a
// wrong field name must fail tsc.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type Service } from "@bimux/services";

const repo = fileURLToPath(new URL("../../..", import.meta.url));
const readme = readFileSync(join(repo, "packages/services/README.md"), "utf8");
const bin = join(repo, "node_modules/.bin");

/** The README's files: the blocks whose info string names one. */
function files(): Map<string, string> {
  const found = new Map<string, string>();
  for (const match of readme.matchAll(/^```\w+ file=(\S+)\n([\s\S]*?)^```$/gm)) found.set(match[1]!, match[2]!);
  return found;
}

let dir = "";
beforeAll(() => {
  for (const pkg of ["services", "node", "browser", "core"]) {
    if (!existsSync(join(repo, "packages", pkg, "dist/index.d.ts"))) {
      throw new Error(`packages/${pkg}/dist is missing: run \`pnpm run build\` first (npm test does)`);
    }
  }
  dir = mkdtempSync(join(tmpdir(), "bimux-readme-"));
  for (const [path, content] of files()) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  // What `npm install` puts there, as links to this repo's packages (their own dependencies resolve from there).
  const link = (name: string, target: string) => {
    mkdirSync(dirname(join(dir, "node_modules", name)), { recursive: true });
    symlinkSync(target, join(dir, "node_modules", name), "dir");
  };
  for (const pkg of ["services", "node", "browser"]) link(`@bimux/${pkg}`, join(repo, "packages", pkg));
  link("@bufbuild/protobuf", join(repo, "packages/services/node_modules/@bufbuild/protobuf"));
  link("@types/node", join(repo, "node_modules/@types/node"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const run = (command: string, args: string[]) =>
  spawnSync(join(bin, command), args, { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });

describe("README: Typed services", () => {
  it("names the files a newcomer writes", () => {
    expect([...files().keys()].sort()).toEqual(["buf.gen.yaml", "buf.yaml", "proto/tabs/v1/tabs.proto", "src/page.ts", "src/server.ts", "tsconfig.json"]);
  });

  it("`buf generate` finds bimux/v1/options.proto in the package, and `tsc` (strict) accepts the server and the page", () => {
    const generate = run("buf", ["generate"]);
    expect(generate.stderr).toBe("");
    expect(generate.status).toBe(0);
    expect(existsSync(join(dir, "src/gen/tabs/v1/tabs_pb.ts"))).toBe(true);
    expect(existsSync(join(dir, "src/gen/bimux/v1/options_pb.ts"))).toBe(true);
    const tsc = run("tsc", ["-p", "."]);
    expect(tsc.stdout).toBe("");
    expect(tsc.status).toBe(0);
  }, 60_000);

  it("a wrong field name is a compile error", () => {
    const page = join(dir, "src/page.ts");
    const original = readFileSync(page, "utf8");
    try {
      writeFileSync(page, original.replace("server.hello({ name:", "server.hello({ nmae:"));
      const tsc = run("tsc", ["-p", "."]);
      expect(tsc.status).not.toBe(0);
      expect(tsc.stdout).toMatch(/src\/page\.ts\(\d+,\d+\): error TS(2353|2561): Object literal may only specify known properties, (and|but) 'nmae' does not exist/);
    } finally {
      writeFileSync(page, original);
    }
  }, 60_000);

  it("the generated code reads as the README says: routes and the one-way flag from the options", async () => {
    // The generated services, bundled to run here: createClient reads them as a page would.
    execFileSync(join(bin, "esbuild"), ["src/gen/tabs/v1/tabs_pb.ts", "--bundle", "--format=esm", "--platform=node", "--outfile=out/tabs.mjs"], { cwd: dir });
    const { TabService, ServerService } = (await import(join(dir, "out/tabs.mjs"))) as Record<"TabService" | "ServerService", Service>;
    const sent: Array<[number, number]> = [];
    const peer = {
      rpc: async (route: number, data: Uint8Array) => (sent.push([route, data.length]), new Uint8Array()),
      send: async (route: number, data: Uint8Array) => void sent.push([-route, data.length]),
    };
    // Untyped here (the file is compiled at run time): tsc checked the types above.
    const tab = createClient(TabService, peer) as unknown as Record<string, (r: object) => Promise<unknown>>;
    await tab.getTitle!({ tabId: 1 });
    await tab.notify!({ text: "x" });
    const server = createClient(ServerService, peer) as unknown as Record<string, (r: object) => Promise<unknown>>;
    await server.hello!({ name: "ab" });
    // GetTitle on route 1 (tab_id = 1: 2 bytes), Notify sent one-way on 10, Hello on 100.
    expect(sent).toEqual([[1, 2], [-10, 3], [100, 4]]);
  }, 60_000);
});

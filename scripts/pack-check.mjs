// Installs the packages as a user gets them and uses them: `pnpm pack` each one, install
// the tarballs with npm into a new project in a temporary folder, then import every entry
// point from ESM and from CommonJS (with a real call over a WebSocket on 127.0.0.1), run
// the `bimux` bin, and typecheck a TypeScript file against the shipped types under
// node16, bundler and node10 resolution. Run after a build, by `check`.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "bimux-pack-"));
const run = (command, args, cwd) => execFileSync(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
const step = (what) => console.log(`pack-check: ${what}`);

try {
  const tarballs = {};
  for (const dir of readdirSync(join(root, "packages")).sort()) {
    const cwd = join(root, "packages", dir);
    const manifest = JSON.parse(readFileSync(join(cwd, "package.json"), "utf8"));
    if (manifest.private) continue;
    // pnpm pack turns `workspace:^` into the version, as a publish does.
    run("pnpm", ["pack", "--pack-destination", work], cwd);
    const file = readdirSync(work).find((f) => f.startsWith(manifest.name.replace("@", "").replace("/", "-")) && f.endsWith(".tgz"));
    tarballs[manifest.name] = `file:${join(work, file)}`;
  }
  step(`packed ${Object.keys(tarballs).join(", ")}`);

  const bunTypes = JSON.parse(readFileSync(join(root, "packages", "bun", "package.json"), "utf8")).devDependencies["@types/bun"];
  const app = join(work, "app");
  execFileSync("mkdir", [app]);
  writeFileSync(
    join(app, "package.json"),
    // @types/bun as a TypeScript user of @bimux/bun has it (its optional peer), for the types check below.
    JSON.stringify({ name: "bimux-pack-check", private: true, type: "module", dependencies: { ...tarballs, "@types/bun": bunTypes }, overrides: tarballs }, null, 2),
  );
  // The tarballs' own dependencies (ws) come from the registry, as for a user; overrides keep
  // npm from looking up @bimux/* there: the packed ones satisfy each other.
  run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], app);
  step("installed the tarballs with npm");

  const calls = (load) => `
const { serve, dial } = ${load("@bimux/node")};
const { Muxer, BimuxError } = ${load("@bimux/core")};
const { createDuplexPair } = ${load("@bimux/core/testing")};
const { EXTENSIONS_HEADER } = ${load("@bimux/core/transport")};
const browser = ${load("@bimux/browser")};
const { createDashboard, EXIT_CODES } = ${load("@bimux/cli")};
const bun = ${load("@bimux/bun")};
const check = (ok, what) => { if (!ok) throw new Error(what); };
check(typeof browser.dial === "function" && typeof createDuplexPair === "function" && typeof EXTENSIONS_HEADER === "string", "entry points");
check(EXIT_CODES.timeout === 4 && typeof createDashboard === "function", "@bimux/cli");
// Bun.serve is Bun's, but making the server's handlers is plain JavaScript: it loads anywhere.
const bimux = bun.bunServer({ onRpc: (_r, data) => data });
check(typeof bimux.upgrade === "function" && typeof bimux.websocket.message === "function" && bimux.peers.size === 0, "@bimux/bun");
check(bun.Muxer === Muxer && bun.BimuxError === BimuxError, "one Muxer class for @bimux/bun and @bimux/core");
const server = await serve({ host: "127.0.0.1", port: 0, path: "/mux", onRpc: (_r, data) => data });
const client = await dial("ws://127.0.0.1:" + server.port + "/mux");
check(client instanceof Muxer, "one Muxer class for @bimux/node and @bimux/core");
const reply = new TextDecoder().decode(await client.rpc(1, new TextEncoder().encode("packed")));
check(reply === "packed", "round trip");
const error = await client.rpc(1, new Uint8Array(), { timeout: 1, signal: AbortSignal.abort() }).catch((e) => e);
check(error instanceof BimuxError, "one BimuxError class");
client.close();
await server.close();
console.log("ok");
`;
  writeFileSync(join(app, "esm.mjs"), calls((name) => `await import(${JSON.stringify(name)})`));
  writeFileSync(join(app, "cjs.cjs"), `(async () => {${calls((name) => `require(${JSON.stringify(name)})`)}})().catch((e) => { console.error(e); process.exit(1); });`);
  for (const file of ["esm.mjs", "cjs.cjs"]) {
    const out = run(process.execPath, [file], app).trim();
    if (out !== "ok") throw new Error(`${file} printed ${out}`);
    step(`${file}: every entry point loads, and a call goes through`);
  }
  const version = run(join(app, "node_modules", ".bin", "bimux"), ["--version"], app).trim();
  step(`the bimux bin runs (${version})`);

  // Types: what a TypeScript user compiles against, under each resolution mode.
  writeFileSync(
    join(app, "types.ts"),
    `import { serve, dial, type BimuxServer, type DialOptions } from "@bimux/node";
import { Muxer, BimuxError, type ErrorCode } from "@bimux/core";
import { createDuplexPair } from "@bimux/core/testing";
import type { Duplex } from "@bimux/core/transport";
import { dial as dialFromPage } from "@bimux/browser";
import { createDashboard, EXIT_CODES, type DashboardOptions } from "@bimux/cli";
export async function typed(): Promise<number> {
  const server: BimuxServer = await serve({ port: 0 });
  const options: DialOptions = { rejectUnauthorized: true };
  const muxer: Muxer = await dial("ws://127.0.0.1:" + server.port, options);
  const reply: Uint8Array = await muxer.rpc(1, new Uint8Array());
  const code: ErrorCode = new BimuxError("timeout", "x").code;
  const pair: [Duplex, Duplex] = createDuplexPair();
  const dashboard: DashboardOptions = { prefix: "/admin", authorize: () => true };
  void createDashboard(server, dashboard);
  void dialFromPage;
  return reply.length + EXIT_CODES[code] + pair.length;
}
`,
  );
  writeFileSync(join(app, "page.ts"), `import "@bimux/browser/bimux.global.js";\nexport const fromScriptTag: Promise<unknown> = bimux.dial("ws://127.0.0.1:1/mux");\n`);
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const common = ["--noEmit", "--strict", "--target", "es2022", "--skipLibCheck", "false", "--types", "node", "--typeRoots", join(root, "node_modules", "@types"), "--lib", "es2022,dom"];
  for (const [mode, flags] of [
    ["node16 (ESM)", ["--module", "node16", "--moduleResolution", "node16"]],
    ["bundler", ["--module", "esnext", "--moduleResolution", "bundler"]],
    ["node10", ["--module", "commonjs", "--moduleResolution", "node10", "--esModuleInterop"]],
  ]) {
    try {
      run(process.execPath, [tsc, ...common, ...flags, "types.ts", "page.ts"], app);
    } catch (error) {
      throw new Error(`tsc under ${mode} failed:\n${error.stdout}${error.stderr}`);
    }
    step(`types check under ${mode} resolution`);
  }
  // @bimux/bun's types plug into Bun.serve's, with Bun's globals (and no Node's) as in a Bun project.
  writeFileSync(
    join(app, "bun.ts"),
    `import { bunServer, type BunBimuxServer, type Muxer, type PeerRegistry } from "@bimux/bun";
export function start(): number {
  const bimux: BunBimuxServer = bunServer({ handlers: { 1: (_route, data) => data }, authenticate: (request) => request.headers.has("authorization") });
  const server = Bun.serve({
    port: 0,
    fetch: (request, server) => (new URL(request.url).pathname === "/mux" ? bimux.upgrade(request, server) : new Response("hello")),
    websocket: bimux.websocket,
  });
  const peers: PeerRegistry = bimux.peers;
  const agent: Muxer | undefined = peers.get("agent-7");
  return (server.port ?? 0) + peers.size + (agent ? 1 : 0);
}
`,
  );
  // A Bun server joins a cluster as @bimux/node's does: its peers are the registry @bimux/nats follows.
  writeFileSync(
    join(app, "bun-cluster.ts"),
    `import { bunServer } from "@bimux/bun";
import { joinCluster, type ClusterServer } from "@bimux/nats";
export async function join(): Promise<string> {
  const bimux = bunServer({ authenticate: () => ({ id: "agent-7" }) });
  const joinable: ClusterServer = bimux;
  const cluster = await joinCluster(bimux, { nats: { servers: "nats://127.0.0.1:4222" } });
  return cluster.node + (joinable.peers === bimux.peers ? "" : "?");
}
`,
  );
  const bunCommon = ["--noEmit", "--strict", "--target", "es2022", "--skipLibCheck", "false", "--types", "bun", "--lib", "es2022"];
  for (const [mode, flags] of [
    ["node16 (ESM)", ["--module", "node16", "--moduleResolution", "node16"]],
    ["bundler", ["--module", "esnext", "--moduleResolution", "bundler"]],
    ["node10", ["--module", "commonjs", "--moduleResolution", "node10", "--esModuleInterop"]],
  ]) {
    try {
      run(process.execPath, [tsc, ...bunCommon, ...flags, "bun.ts"], app);
    } catch (error) {
      throw new Error(`tsc of bun.ts under ${mode} failed:\n${error.stdout}${error.stderr}`);
    }
    step(`@bimux/bun's types check in Bun.serve under ${mode} resolution`);
    // Not under node10: @nats-io/transport-node's own types import a subpath
    // (@nats-io/nats-core/internal) that only its exports map resolves.
    if (mode === "node10") continue;
    try {
      run(process.execPath, [tsc, ...bunCommon, ...flags, "bun-cluster.ts"], app);
    } catch (error) {
      throw new Error(`tsc of bun-cluster.ts under ${mode} failed:\n${error.stdout}${error.stderr}`);
    }
    step(`a Bun server's types check as @bimux/nats's ClusterServer under ${mode} resolution`);
  }
  console.log("pack-check: every check passed");
} finally {
  rmSync(work, { recursive: true, force: true });
}

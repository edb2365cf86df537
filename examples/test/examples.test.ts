import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** Runs `examples/<file>` in its own process, as `node examples/<file>` would, against the built packages. */
function run(file: string, args: string[] = []): Promise<string> {
  const path = fileURLToPath(new URL(`../${file}`, import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} failed: ${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    );
  });
}

const lines = (out: string) => out.trimEnd().split("\n");

// Each recipe of docs/recipes.md, run as a user runs it, with the output it must print.
describe("examples", () => {
  const exact: Record<string, string[]> = {
    "node-http.mjs": ["GET / -> hello from the app", "client -> server: server got ping", "server -> client: client here", "client closed: 1001 server closing"],
    "express.mjs": ["GET /health -> ok", "client -> server: SHOUT", "GET /admin/bimux/api/peers without the token -> 401", "GET /admin/bimux/api/peers -> 1 peer(s)", "closed"],
    "fastify.mjs": ["GET /health -> ok", "client -> server: fastify got ping", "client closed: 1001 server closing"],
    "hono.mjs": ["GET /health -> ok", "client -> server: hono got ping", "client closed: 1001"],
    "vite-proxy.mjs": ["through the proxy: hello", "another origin: permission_denied (403)", "closed"],
    "encodings.mjs": ["json: {\"sum\":42}", "protobuf: 1970-01-02T00:00:00.000Z", "msgpack: hello msgpack, 3 bytes, binary kept"],
    "naming-peers.mjs": ["peers: agent-a", 'server.peers.get("agent-b"): none', "stranger: unauthenticated (401)", "agent-a answers with its token's owner: true"],
    "shutdown.mjs": [
      "the server's call to the client: closed",
      "the client's call to the server: closed",
      "the client was told: 1001 server closing",
      "http listening: false",
    ],
  };
  for (const [file, expected] of Object.entries(exact)) {
    it(`${file} prints what docs/recipes.md says`, async () => {
      expect(lines(await run(file))).toEqual(expected);
    });
  }

  it("demo-node.mjs: the server calls a Node agent (the demo without Chromium)", async () => {
    const out = lines(await run("demo.mjs", ["--node"]));
    expect(out).toContain("server -> agent-1 rpc route 2 [40, 2]: 42");
    expect(out).toContain("server <- agent-1 one-way route 3: hello from behind the NAT");
    expect(out.at(-1)).toBe("agent: connection closed by the remote side, code 1001 (server closing)");
  });

  // npm test installs /usr/bin/chromium (scripts/env.sh --test), as the e2e needs it.
  it("demo-dashboard.mjs: a headless page behind NAT, called through the dashboard's API", async () => {
    const out = lines(await run("demo.mjs"));
    expect(out[0]).toMatch(/^dashboard: {3}http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(out[1]).toMatch(/^agent page: {2}http:\/\/127\.0\.0\.1:\d+\/agent$/);
    expect(out).toContain('POST /api/call route 1 (its title): "bimux demo agent"');
    expect(out).toContain('POST /api/call route 3 (echo): "hello, page behind NAT"');
    expect(out).toContain('POST /api/call route 2 (its counter): "3"');
    expect(out).toContain("POST /api/call route 9 (a route it does not serve): [unimplemented] no handler for route 9");
    expect(out.find((line) => line.startsWith("GET /api/peers:"))).toMatch(/^GET \/api\/peers: peer-\d+ from 127\.0\.0\.1, RTT \d+\.\d ms$/);
    expect(out.at(-1)).toBe("closed");
  });
});

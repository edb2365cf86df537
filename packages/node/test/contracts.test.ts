import { createServer } from "node:http";
import { createServer as createTcp } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ConnectionQueue, PeerRegistry, dial, serve, type BimuxError, type BimuxServer, type Muxer } from "../src/index.js";
import { bytes, rejection, sleep, text, until } from "../../../test-support/helpers.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(server = createServer((_q, r) => r.end("plain http"))) {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return server;
}
async function srv(o: Parameters<typeof serve>[0]) {
  const s = await serve({ host: "127.0.0.1", port: 0, ...o });
  cleanups.push(() => s.close());
  return s;
}

describe("contracts: serve", () => {
  it("a server without path takes every path, even with a path-bound bimux server after it on the same http server", async () => {
    const http = await listen();
    const any = await srv({ server: http });          // path: any
    await srv({ server: http, path: "/only" });       // another bimux server on the same http server
    const port = (http.address() as AddressInfo).port;
    const client = await dial(`ws://127.0.0.1:${port}/elsewhere`, { keepalive: false });
    cleanups.push(() => client.close());
    expect(any.peers.size).toBe(1);
  });

  it("path with a query string and existing server: other routes keep working; port of existing", async () => {
    const http = await listen();
    const s = await srv({ server: http, path: "/mux", onRpc: () => bytes("ok") });
    const port = (http.address() as AddressInfo).port;
    expect(s.port).toBe(port);
    const client = await dial(`ws://127.0.0.1:${port}/mux?agent=1&x=/y`, { keepalive: false });
    cleanups.push(() => client.close());
    expect(text(await client.rpc(1, bytes("")))).toBe("ok");
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("plain http");
    const e = await rejection(dial(`ws://127.0.0.1:${port}/mux/`, { keepalive: false }));
    expect(e.code).toBe("unavailable");
  });

  it("port 0 binds a free port; PeerRegistry iterates live peers; ConnectionQueue with two consumers", async () => {
    const s = await srv({ path: "/mux", authenticate: (req) => ({ id: new URL(req.url!, "http://x").searchParams.get("id") ?? undefined }) });
    expect(s.port).toBeGreaterThan(0);
    const takenBy: string[] = [];
    const consume = async (name: string) => { for await (const m of s.connections) { takenBy.push(`${name}:${m.id}`); if (takenBy.length >= 2) return; } };
    const c1 = consume("A");
    const c2 = consume("B");
    const a = await dial(`ws://127.0.0.1:${s.port}/mux?id=a`, { keepalive: false });
    const b = await dial(`ws://127.0.0.1:${s.port}/mux?id=b`, { keepalive: false });
    cleanups.push(() => { a.close(); b.close(); });
    await until(() => takenBy.length === 2);
    expect(takenBy.sort()).toEqual(["A:a", "B:b"]);
    expect([...s.peers].map((m) => m.id).sort()).toEqual(["a", "b"]);
    expect(s.peers.get("a")).toBeDefined();
    a.close();
    await until(() => s.peers.size === 1);
    expect(s.peers.has("a")).toBe(false);
    await Promise.race([c1, c2, sleep(10)]);
  });
});

describe("contracts: dial", () => {
  it("headers reach the server; extensions false offers nothing", async () => {
    const seen: Array<Record<string, unknown>> = [];
    const s = await srv({ path: "/mux", authenticate: (req) => (seen.push({ ...req.headers }), true) });
    const c = await dial(`ws://127.0.0.1:${s.port}/mux`, { keepalive: false, headers: { authorization: "Bearer t" }, extensions: false });
    cleanups.push(() => c.close());
    expect(seen[0]!.authorization).toBe("Bearer t");
    expect(seen[0]!["x-bimux-extensions"]).toBeUndefined();
    expect(c.extensions).toBe(false);
  });

  it("handshakeTimeout gives up on a server that never answers, with unavailable, not at the default timeout", async () => {
    const socks: import("node:net").Socket[] = [];
    const tcp = createTcp((s) => void socks.push(s));
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => { socks.forEach((s) => s.destroy()); tcp.close(() => r()); }));
    const port = (tcp.address() as AddressInfo).port;
    // An ordering, not a measured time: the dial must fail before a timer as long as the default
    // handshake timeout (10 s) fires, which it can only do by keeping the 100 ms it was given.
    let defaultTimer: ReturnType<typeof setTimeout> | undefined;
    const atDefault = new Promise<"default timeout">((r) => (defaultTimer = setTimeout(() => r("default timeout"), 10_000)));
    const outcome = await Promise.race([rejection(dial(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 100 })), atDefault]);
    clearTimeout(defaultTimer);
    expect(outcome).not.toBe("default timeout");
    const e = outcome as BimuxError;
    expect(e.code).toBe("unavailable");
    expect(e.message).toMatch(/timed out/);
  });

  it("rejects with unavailable when the connection cannot be made, with reconnect too", async () => {
    const tcp = createTcp();
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    const port = (tcp.address() as AddressInfo).port;
    await new Promise<void>((r) => tcp.close(() => r()));
    expect((await rejection(dial(`ws://127.0.0.1:${port}/`))).code).toBe("unavailable");
    const e = await rejection(dial(`ws://127.0.0.1:${port}/`, { reconnect: { maxAttempts: 1 } }));
    expect(e.code).toBe("unavailable");
  });
});

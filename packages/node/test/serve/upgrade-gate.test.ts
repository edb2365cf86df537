// What serve() lets through the HTTP upgrade: the path, the Origin, and the authenticate hook.
import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { BimuxError, dial, serve, type AuthContext, type AuthResult } from "@bimux/node";
import { bytes, rejection, sleep, text, until } from "../../../../test-support/helpers.js";
import { eventually, upgradeStatus as status } from "../../../../test-support/attackers.js";
import { listen, onCleanup, serveOn, start } from "../fixtures/servers.js";
import { caught, rawUpgrade, upgradeStatus } from "../fixtures/raw.js";

describe("upgrade gate: authenticate", () => {
  it("refuses with 401 or 403 before any WebSocket exists, and names accepted peers", async () => {
    const { server, url } = await start({
      authenticate: (req) => {
        const token = req.headers.authorization;
        if (!token) return false;
        if (token === "Bearer banned") return { status: 403, message: "banned" };
        return { id: token.slice("Bearer ".length) };
      },
    });
    expect(await upgradeStatus(url)).toBe(401);
    expect(await upgradeStatus(url, { authorization: "Bearer banned" })).toBe(403);
    const refused = await rejection(dial(url, { headers: { authorization: "Bearer banned" } }));
    expect([refused.code, refused.status, refused.message.includes("403")]).toEqual(["permission_denied", 403, true]);
    await dial(url, { headers: { authorization: "Bearer alice" }, handlers: { 1: () => bytes("alice here") } });
    await until(() => server.peers.has("alice"));
    expect(text(await server.peers.get("alice")!.rpc(1, bytes("")))).toBe("alice here");
  });

  it("answers 500, and stays up, when the authentication hook throws", async () => {
    const errors: BimuxError[] = [];
    const { url } = await start({
      authenticate: async () => {
        throw new Error("db down");
      },
      onError: (e) => void errors.push(e),
    });
    expect(await upgradeStatus(url)).toBe(500);
    expect(await upgradeStatus(url)).toBe(500);
    expect(errors.map((e) => [e.code, e.rawMessage])).toEqual([
      ["internal", "authenticate failed: db down"],
      ["internal", "authenticate failed: db down"],
    ]);
  });

  it("an authenticate hook rejecting with a value String() cannot convert still answers 500", async () => {
    const errors: unknown[] = [];
    const { url } = await start({
      authenticate: () => Promise.reject(Object.create(null)),
      onError: (e) => errors.push(e),
    });
    const status = await new Promise<number | string>((resolve) => {
      const ws = new WebSocket(url, { handshakeTimeout: 1000 });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve("open"));
      ws.on("error", (e) => resolve(e.message));
    });
    expect(status).toBe(500);
  });

  it("fails closed: a hook that returns nothing (or null) refuses with 401", async () => {
    const forgot = await start({ authenticate: (() => undefined) as unknown as () => boolean });
    expect(await upgradeStatus(forgot.url)).toBe(401);
    const nulled = await start({ authenticate: (async () => null) as unknown as () => boolean });
    expect(await upgradeStatus(nulled.url)).toBe(401);
    expect(nulled.server.peers.size).toBe(0);
  });
});

describe("upgrade gate: origin", () => {
  it("refuses cross-origin browser upgrades by default, and allows listed origins", async () => {
    const { server, url } = await start();
    const host = `127.0.0.1:${server.port}`;
    expect(await upgradeStatus(url, { origin: "https://evil.example" })).toBe(403);
    expect(await upgradeStatus(url, { origin: `http://${host}` })).toBe(101);
    // Host names are case-insensitive: a browser's Host header may keep the case it was typed in.
    expect(await upgradeStatus(url, { origin: `http://localhost:${server.port}`, host: `LocalHost:${server.port}` })).toBe(101);
    expect(await upgradeStatus(url)).toBe(101); // no Origin: not a browser
    const listed = await start({ origins: ["https://app.example"] });
    expect(await upgradeStatus(listed.url, { origin: "https://app.example" })).toBe(101);
    expect(await upgradeStatus(listed.url, { origin: "https://evil.example" })).toBe(403);
  });

  it("a client resetting right after a refused (403) upgrade does not crash the server", async () => {
    const { url } = await start();
    const port = +new URL(url).port;
    const errors = await caught("uncaughtException", async () => {
      for (let i = 0; i < 30; i++) {
        const sock = connect(port, "127.0.0.1");
        sock.on("error", () => {});
        await new Promise((r) => sock.once("connect", r));
        sock.write(rawUpgrade("/mux", "https://evil.example"));
        sock.resetAndDestroy();
        await sleep(20);
      }
    });
    expect(errors.map(String)).toEqual([]);
  });
});

describe("upgrade gate: path", () => {
  it("attaches to an existing HTTP server and leaves its other routes and paths alone", async () => {
    const http = createServer((_req, res) => res.end("plain http"));
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const port = (http.address() as AddressInfo).port;
    const server = await serve({ server: http, path: "/mux", onRpc: () => bytes("over ws") });
    const client = await dial(`ws://127.0.0.1:${port}/mux`);
    expect(text(await client.rpc(1, bytes("")))).toBe("over ws");
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("plain http");
    const wrongPath = await rejection(dial(`ws://127.0.0.1:${port}/other`));
    expect(wrongPath.code).toBe("unavailable");
    await server.close();
    expect((await client.wait()).code).toBe(1001);
    await new Promise((r) => http.close(r));
  });

  it("on an existing server, matches its path whatever the query string, and nothing else (no trailing slash); the other routes keep working", async () => {
    const http = await listen();
    const s = await serveOn({ server: http, path: "/mux", onRpc: () => bytes("ok") });
    const port = (http.address() as AddressInfo).port;
    expect(s.port).toBe(port);
    const client = await dial(`ws://127.0.0.1:${port}/mux?agent=1&x=/y`, { keepalive: false });
    onCleanup(() => client.close());
    expect(text(await client.rpc(1, bytes("")))).toBe("ok");
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("plain http");
    const e = await rejection(dial(`ws://127.0.0.1:${port}/mux/`, { keepalive: false }));
    expect(e.code).toBe("unavailable");
  });

  it("a server without a path takes every path, even with a path-bound bimux server after it on the same HTTP server", async () => {
    const http = await listen();
    const any = await serveOn({ server: http });          // path: any
    await serveOn({ server: http, path: "/only" });       // another bimux server on the same http server
    const port = (http.address() as AddressInfo).port;
    const client = await dial(`ws://127.0.0.1:${port}/elsewhere`, { keepalive: false });
    onCleanup(() => client.close());
    expect(any.peers.size).toBe(1);
  });

  it("with two bimux servers on one HTTP server, an unknown path gets 404, not a hung handshake", async () => {
    const http = createServer();
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const port = (http.address() as AddressInfo).port;
    const a = await serve({ server: http, path: "/a" });
    const b = await serve({ server: http, path: "/b" });
    try {
      const error = await rejection(dial(`ws://127.0.0.1:${port}/c`, { handshakeTimeout: 1000 }));
      expect(error.message).toContain("404");
    } finally {
      await a.close();
      await b.close();
      http.closeAllConnections();
      await Promise.race([new Promise((r) => http.close(r)), sleep(500)]);
    }
  });
});

describe("what a refused client is told", () => {
  it("only the message the application chose: a lax verdict's contents stay on the server", async () => {
    const secret = { ok: false, user: { passwordHash: "$2b$10$secret" } };
    const { url } = await start({ authenticate: () => secret as unknown as AuthResult, onError: () => {} });
    const error = await rejection(dial(url));
    expect([error.code, error.status]).toEqual(["unauthenticated", 401]);
    expect(error.rawMessage).not.toContain("passwordHash");
    const { url: other } = await start({ authenticate: () => ({ status: 403, message: "account suspended" }) });
    expect((await rejection(dial(other))).rawMessage).toContain("403 account suspended");
  });
});

describe("the authenticate hook's signal", () => {
  it("aborts when the hook outlives authenticateTimeout, and the upgrade is answered 503", async () => {
    const signals: AbortSignal[] = [];
    const { url } = await start({
      authenticateTimeout: 50,
      authenticate: (_request, { signal }: AuthContext) => {
        signals.push(signal);
        return new Promise<AuthResult>(() => {});
      },
    });
    expect(await status(url)).toBe(503);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
  });

  it("aborts when the client goes away before the verdict", async () => {
    const signals: AbortSignal[] = [];
    const { url } = await start({
      authenticate: (_request, { signal }: AuthContext) => {
        signals.push(signal);
        return new Promise<AuthResult>(() => {});
      },
    });
    const controller = new AbortController();
    const dialing = rejection(dial(url, { signal: controller.signal }));
    expect(await eventually(() => signals.length === 1, 2000)).toBe(true);
    expect(signals[0]!.aborted).toBe(false);
    controller.abort();
    expect((await dialing).code).toBe("aborted");
    expect(await eventually(() => signals[0]!.aborted, 2000)).toBe(true);
  });
});

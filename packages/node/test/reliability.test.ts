import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { BimuxError, dial, serve, type BimuxServer, type CallContext, type ConnectionState, type Muxer } from "../src/index.js";
import { bytes, rejection, sleep, text, until } from "../../../test-support/helpers.js";
import { nextPeer, start } from "./servers.js";
import { onFakeTime } from "../../../test-support/fake-time.js";


/** Opens a raw WebSocket and reports the HTTP status of a refused upgrade. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on("open", () => {
      resolve(101);
      ws.close();
    });
    ws.on("error", () => {});
  });
}

describe("extension negotiation over WebSocket", () => {
  it("turns the extensions on between bimux-ts peers", async () => {
    const { server, url } = await start();
    const client = await dial(url);
    const peer = await nextPeer(server);
    expect([client.extensions, peer.extensions]).toEqual([true, true]);
    client.close();
  });

  it("speaks the plain Go protocol, on one handshake, with a server that takes no extensions", async () => {
    const { server, url } = await start({ extensions: false, onRpc: () => bytes("plain") });
    const client = await dial(url);
    const peer = await nextPeer(server);
    expect([client.extensions, peer.extensions]).toEqual([false, false]);
    expect(text(await client.rpc(1, bytes("")))).toBe("plain");
    client.close();
  });

  it("cancels the server's handler when the client aborts its call", async () => {
    let reason: BimuxError | undefined;
    const { url } = await start({
      onRpc: (_r, _d, _m, ctx: CallContext) =>
        new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve((reason = ctx.signal.reason as BimuxError, undefined)))),
    });
    const client = await dial(url);
    const ac = new AbortController();
    const call = rejection(client.rpc(1, bytes(""), { signal: ac.signal }));
    await sleep(20);
    ac.abort();
    expect((await call).code).toBe("aborted");
    await until(() => reason !== undefined);
    expect(reason?.code).toBe("aborted");
    client.close();
  });
});

describe("keepalive over WebSocket", () => {
  // The keepalive ticks run on fake intervals, moved by the test; the sockets, and ws's own
  // timeouts, stay real. Each test loads its own @bimux/node: core keeps one interval per
  // keepalive length in module state, which must be made on the fake clock.
  const KEEPALIVE_CLOCKS = ["setInterval", "clearInterval", "performance"] as const;
  afterEach(() => vi.useRealTimers());

  it("the server keeps a client that answers its pings, and drops it three intervals after it stops reading", async () => {
    const node = await onFakeTime(() => import("../src/index.js"), [...KEEPALIVE_CLOCKS]);
    const server = await node.serve({ port: 0, host: "127.0.0.1", path: "/mux", keepalive: { interval: 50 }, extensions: false });
    try {
      // A raw client stands in for a Go one: it only answers WebSocket pings, and then stops reading altogether.
      const raw = new WebSocket(`ws://127.0.0.1:${server.port}/mux`);
      await new Promise((r) => raw.once("open", r));
      const peer = await nextPeer(server);
      // A ping of our own and its pong: once back, the server has read all the client sent before it
      // (the pong to a ping of the server's included), and the client all the server sent before it.
      const roundTrip = () =>
        new Promise<void>((resolve, reject) => {
          const closed = () => reject(new Error("the server dropped a client that answers its pings"));
          raw.once("close", closed);
          raw.once("pong", () => (raw.off("close", closed), resolve()));
          raw.ping();
        });
      for (let tick = 0; tick < 6; tick++) {
        await vi.advanceTimersByTimeAsync(50);
        await roundTrip(); // the client gets the server's ping, if this tick sent one, and answers it
        await roundTrip(); // the server gets that answer before its next tick
      }
      expect(peer.closed).toBe(false); // pings answered while it reads
      raw.pause();
      await vi.advanceTimersByTimeAsync(3 * 50);
      expect(peer.closed).toBe(true);
      const info = await peer.wait();
      expect(info.error?.code).toBe("unavailable");
      expect(server.peers.size).toBe(0);
      raw.terminate();
    } finally {
      await server.close();
    }
  });

  it("a client notices, three intervals on, a server that stopped reading, and its calls reject at once, not at their timeout", async () => {
    const node = await onFakeTime(() => import("../src/index.js"), [...KEEPALIVE_CLOCKS]);
    let serverSocket: IncomingMessage["socket"] | undefined;
    const server = await node.serve({
      port: 0, host: "127.0.0.1", path: "/mux",
      onConnection: (_m, req) => (serverSocket = req.socket),
      onRpc: () => new Promise(() => {}),
    });
    try {
      const client = await node.dial(`ws://127.0.0.1:${server.port}/mux`, { keepalive: { interval: 50 } });
      await until(() => serverSocket !== undefined);
      let code: string | undefined;
      client.rpc(1, bytes(""), { timeout: 60_000 }).catch((e: BimuxError) => (code = e.code));
      serverSocket!.pause(); // the server's end stops reading: no pongs, no close
      await vi.advanceTimersByTimeAsync(3 * 50);
      expect(client.closed).toBe(true);
      await until(() => code !== undefined);
      expect(code).toBe("closed");
      expect((await client.wait()).error?.code).toBe("unavailable");
      serverSocket!.destroy();
    } finally {
      await server.close();
    }
  });
});

describe("reconnect", () => {
  it("comes back after the server restarts, and the server can call the client again", async () => {
    const first = await start();
    const port = first.server.port;
    const states: ConnectionState[] = [];
    const client = await dial(first.url, {
      reconnect: { initialDelay: 20, maxDelay: 100 },
      handlers: { 1: () => bytes("still here") },
      onStateChange: (s) => void states.push(s),
    });
    client.id = "agent-9";
    expect(text(await (await nextPeer(first.server)).rpc(1, bytes("")))).toBe("still here");
    await first.server.close();
    await until(() => client.state === "connecting");
    expect((await rejection(client.rpc(1, bytes("")))).code).toBe("unavailable");
    const second = await start({ port });
    const peer = await nextPeer(second.server);
    expect(text(await peer.rpc(1, bytes("")))).toBe("still here");
    await until(() => client.state === "open");
    expect(states).toEqual(["open", "connecting", "open"]);
    client.close();
    expect(client.state).toBe("closed");
  });

  it("rejects a first dial that can never succeed once out of attempts", async () => {
    const { server, url } = await start();
    await server.close();
    const error = await rejection(dial(url, { reconnect: { maxAttempts: 2, initialDelay: 5 } }));
    // The reason it could not connect, as a plain dial gives it.
    expect(error.code).toBe("unavailable");
    expect(error.rawMessage).toMatch(/^cannot connect to ws:\/\/127\.0\.0\.1:\d+\/mux/);
  });
});

describe("security at the upgrade", () => {
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
    expect([refused.code, refused.message.includes("403")]).toEqual(["unavailable", true]);
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

  it("fails closed: a hook that returns nothing (or null) refuses with 401", async () => {
    const forgot = await start({ authenticate: (() => undefined) as unknown as () => boolean });
    expect(await upgradeStatus(forgot.url)).toBe(401);
    const nulled = await start({ authenticate: (async () => null) as unknown as () => boolean });
    expect(await upgradeStatus(nulled.url)).toBe(401);
    expect(nulled.server.peers.size).toBe(0);
  });

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
});

describe("backpressure over WebSocket", () => {
  it("makes senders wait for a client that stops reading, then refuses with `overloaded`, memory bounded", async () => {
    const { server, url } = await start({ highWaterMark: 256 * 1024, maxQueuedBytes: 1024 * 1024 });
    const raw = new WebSocket(url);
    await new Promise((r) => raw.once("open", r));
    const peer = await nextPeer(server);
    raw.pause(); // a slow reader: nothing more is read from the socket
    const chunk = new Uint8Array(64 * 1024);
    const sends: Array<Promise<string>> = [];
    let settled = 0;
    let refused: BimuxError | undefined;
    // Bounded: at most 1,000 × 64 KiB, whatever happens.
    for (let i = 0; i < 1000 && !refused; i++) {
      const sent = peer.send(1, chunk);
      sends.push(sent.then(() => "sent", (e: BimuxError) => e.code).finally(() => settled++));
      await Promise.race([sent.catch((e: BimuxError) => (refused = e)), sleep(0)]);
    }
    expect(refused?.code).toBe("overloaded");
    // Before refusing, it made senders wait: their promises were still pending.
    expect(sends.length - settled).toBeGreaterThan(1);
    // What ws buffers stays near the cap: writes past it were refused, not buffered.
    expect(peer.bufferedAmount).toBeLessThan(64 * 1024 * 1024);
    const waiting = sends.length;
    raw.resume();
    const outcomes = await Promise.all(sends);
    // The writes that waited went out once the reader read again; only the refused one failed.
    expect(outcomes.filter((o) => o === "sent").length).toBe(waiting - 1);
    expect(peer.closed).toBe(false);
    raw.close();
  });
});

describe("limits over WebSocket", () => {
  it("closes with 1009 when a peer sends a message over the limit, and the server stays up", async () => {
    const { server, url } = await start({ maxMessageSize: 1024, onRpc: () => bytes("ok") });
    const big = await dial(url);
    const info = big.wait();
    void big.send(1, new Uint8Array(4096)).catch(() => {});
    expect((await info).code).toBe(1009);
    const fine = await dial(url);
    expect(text(await fine.rpc(1, bytes("")))).toBe("ok");
    expect(server.peers.size).toBe(1);
    fine.close();
  });
});

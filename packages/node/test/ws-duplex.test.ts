// The ws transport: bytes and order over a real WebSocket, closing, ws pings for keepalive,
// ws's buffer for backpressure, and its message size limit.
import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { BimuxError, decodeFrame, dial, encodeFrame, Flag, wsDuplex } from "@bimux/node";
import { bytes, sleep, text, until } from "../../../test-support/helpers.js";
import { nextPeer, start } from "./fixtures/servers.js";
import { onFakeTime } from "../../../test-support/fake-time.js";

describe("over a WebSocket", () => {
  it("runs hundreds of concurrent calls from both sides at once, all correct", async () => {
    const echo = async (route: number, data: Uint8Array) => {
      await new Promise((r) => setImmediate(r));
      return bytes(`${route}/${text(data)}`);
    };
    const { server, url } = await start({ onRpc: echo });
    const client = await dial(url, { onRpc: echo });
    const peer = await nextPeer(server);
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 500; i++) {
      calls.push(peer.rpc(i, bytes(`s${i}`)).then((r) => expect(text(r)).toBe(`${i}/s${i}`)));
      calls.push(client.rpc(-i, bytes(`c${i}`)).then((r) => expect(text(r)).toBe(`${-i}/c${i}`)));
    }
    await Promise.all(calls);
    expect(peer.pendingCalls + client.pendingCalls).toBe(0);
    client.close();
  });

  it("keeps one-way messages in order", async () => {
    const seen: number[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const { url } = await start({
      onOneway: (_route, data) => {
        seen.push(Number(text(data)));
        if (seen.length === 2000) done();
      },
    });
    const client = await dial(url);
    for (let i = 0; i < 2000; i++) void client.send(1, bytes(String(i)));
    await all;
    expect(seen).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    client.close();
  });

  it("carries payloads from 0 bytes to 8 MiB byte for byte, both ways", async () => {
    const { server, url } = await start({ onRpc: (_r, data) => data });
    const client = await dial(url, { onRpc: (_r, data) => data.slice().reverse() });
    const peer = await nextPeer(server);
    for (const size of [0, 1, 127, 128, 65535, 65536, 1 << 20, 8 << 20]) {
      const payload = new Uint8Array(size);
      for (let i = 0; i < size; i++) payload[i] = (i * 31 + size) & 0xff;
      expect(Buffer.from(await client.rpc(1, payload)).equals(Buffer.from(payload))).toBe(true);
      expect(Buffer.from(await peer.rpc(1, payload)).equals(Buffer.from(payload.slice().reverse()))).toBe(true);
    }
    client.close();
  });

  it("speaks the Go wire format to a raw peer, and survives a Go peer's habits", async () => {
    // A raw ws client stands in for the Go one: it writes and reads the exact bytes.
    const { server, url } = await start({ onRpc: (route, data) => bytes(`${route}:${text(data)}`) });
    const raw = new WebSocket(url);
    const inbox: Buffer[] = [];
    raw.on("message", (d: Buffer) => inbox.push(d));
    await new Promise((r) => raw.once("open", r));
    const next = async () => {
      while (inbox.length === 0) await new Promise((r) => setTimeout(r, 2));
      return inbox.shift()!;
    };
    // Go's first request: number 1, flag 0 (omitted), route 1, "hello".
    raw.send(Buffer.from("08011801220568656c6c6f", "hex"));
    expect((await next()).toString("hex")).toBe(encodeFrameHex(1, Flag.response, 1, "1:hello"));
    // The server calls the Go peer; the Go peer answers with a plain response.
    const peer = await nextPeer(server);
    const call = peer.rpc(9, bytes("q"));
    const request = decodeFrame(await next());
    expect(request).toMatchObject({ number: 1, flag: Flag.request, route: 9 });
    raw.send(encodeFrame({ number: request.number, flag: Flag.response, route: 9, data: bytes("a") }));
    expect(text(await call)).toBe("a");
    raw.close();
  });
});

describe("closing a WebSocket connection", () => {
  it("rejects 1,000 in-flight calls as the server closes the connection, before the client's wait() resolves", async () => {
    const { server, url } = await start({ onRpc: () => new Promise<Uint8Array>(() => {}) });
    const client = await dial(url);
    const peer = await nextPeer(server);
    // What settled, in order: a call ("closed", "timeout"…) or the connection's wait() ("wait").
    const order: string[] = [];
    for (let i = 0; i < 1000; i++) {
      client.rpc(i, bytes("x"), { timeout: 60_000 }).then(() => void order.push("replied"), (e: BimuxError) => void order.push(e.code));
    }
    while (peer.servingCalls < 1000) await new Promise((r) => setTimeout(r, 5));
    const closed = client.wait().then((info) => (order.push("wait"), info));
    peer.close(1000, "done here");
    expect(await closed).toMatchObject({ code: 1000, reason: "done here", initiator: "remote" });
    // All rejected by the close itself, settled by the time wait() resolves: none waited for its 60 s timeout.
    expect(order).toEqual([...Array<string>(1000).fill("closed"), "wait"]);
  });

  it("rejects 1,000 in-flight calls each way as the client closes, before wait() resolves on either side", async () => {
    const { server, url } = await start({ onRpc: () => new Promise<Uint8Array>(() => {}) });
    const client = await dial(url, { onRpc: () => new Promise<Uint8Array>(() => {}) });
    const peer = await nextPeer(server);
    const mine: string[] = [];
    const theirs: string[] = [];
    const record = (into: string[]) => (e: BimuxError) => void into.push(e.code);
    for (let i = 0; i < 1000; i++) {
      client.rpc(1, bytes(""), { timeout: 60_000 }).then(() => void mine.push("replied"), record(mine));
      peer.rpc(1, bytes(""), { timeout: 60_000 }).then(() => void theirs.push("replied"), record(theirs));
    }
    while (peer.servingCalls < 1000 || client.servingCalls < 1000) await new Promise((r) => setTimeout(r, 5));
    const ends = [client.wait().then(() => void mine.push("wait")), peer.wait().then(() => void theirs.push("wait"))];
    client.close();
    await Promise.all(ends);
    expect(mine).toEqual([...Array<string>(1000).fill("closed"), "wait"]);
    expect(theirs).toEqual([...Array<string>(1000).fill("closed"), "wait"]);
  });

  it("close() with a code ws refuses still ends the connection", async () => {
    const { server, url } = await start({ keepalive: false });
    const client = await dial(url, { keepalive: false, onError: () => {} });
    const peer = await nextPeer(server);
    client.close(1005, "bye"); // 1005 may not go on the wire: ws.close throws
    expect(client.closed).toBe(true);
    const outcome = await Promise.race([peer.wait().then(() => "peer saw close"), sleep(1500).then(() => "socket still open")]);
    expect(outcome).toBe("peer saw close");
  });

  it("a WebSocket duplex refuses a send once its socket is closing, so the call fails instead of vanishing", async () => {
    const { url } = await start({ keepalive: false });
    const ws = new WebSocket(url);
    await new Promise((r) => ws.once("open", r));
    const duplex = wsDuplex(ws);
    duplex.open({ message: () => {}, closed: () => {} });
    ws.close(1000, "bye"); // CLOSING until the server answers
    expect(() => duplex.send(new Uint8Array([8, 1]))).toThrow(/not open/);
  });
});

describe("keepalive over WebSocket", () => {
  // The keepalive ticks run on fake intervals, moved by the test; the sockets, and ws's own
  // timeouts, stay real. Each test loads its own @bimux/node: core keeps one interval per
  // keepalive length in module state, which must be made on the fake clock.
  const KEEPALIVE_CLOCKS = ["setInterval", "clearInterval", "performance"] as const;
  afterEach(() => vi.useRealTimers());

  it("the server keeps a client that answers its pings, and drops it three intervals after it stops reading", async () => {
    const node = await onFakeTime(() => import("@bimux/node"), [...KEEPALIVE_CLOCKS]);
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
    const node = await onFakeTime(() => import("@bimux/node"), [...KEEPALIVE_CLOCKS]);
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

describe("frame counts of the WebSocket duplex", () => {
  it("counts frames queued behind a peer that stops reading, and as sent once it reads again, lone or batched", async () => {
    // Frames written to an empty stream carry no callback: they must still be counted, as queued
    // while they wait and as sent once they left, or backpressure and stall detection go blind.
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => wss.once("listening", r));
    let peerSocket: IncomingMessage["socket"] | undefined;
    wss.on("connection", (_s, req) => (peerSocket = req.socket));
    const raw = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
    let stream: IncomingMessage["socket"] | undefined;
    raw.once("upgrade", (res) => (stream = res.socket));
    await new Promise((r) => raw.once("open", r));
    await until(() => peerSocket !== undefined);
    const duplex = wsDuplex(raw, "", stream);
    duplex.open({ message: () => {}, closed: () => {} });
    const tick = () => new Promise((r) => setImmediate(r));
    // The ws duplex counts both (they are optional in the Duplex interface).
    const queued = () => duplex.queuedFrames ?? NaN;
    const sentSoFar = () => duplex.sentFrames ?? NaN;
    let total = 0;
    const send = (size: number) => (duplex.send(new Uint8Array(size)), total++);
    try {
      send(10); // a lone frame
      await tick();
      send(10); // three in one tick, one write
      send(10);
      send(10);
      await tick();
      expect([queued(), sentSoFar()]).toEqual([0, total]);
      peerSocket!.pause();
      // Until the network holds no more: then frames wait in the stream, large and small.
      for (let i = 0; i < 2000 && duplex.bufferedAmount === 0; i++) {
        send(64 * 1024);
        await tick();
      }
      expect(duplex.bufferedAmount).toBeGreaterThan(0);
      send(10);
      send(64 * 1024);
      await tick();
      const sent = sentSoFar();
      expect(queued()).toBeGreaterThan(0);
      expect(queued() + sent).toBe(total);
      await tick();
      expect(sentSoFar()).toBe(sent); // nothing moves while the peer does not read
      peerSocket!.resume();
      await until(() => queued() === 0);
      expect(sentSoFar()).toBe(total);
    } finally {
      raw.terminate();
      await new Promise((r) => wss.close(r));
    }
  });
});

describe("message size limit over WebSocket", () => {
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

  it("the server's own close info says 1009 for an inbound message over the limit", async () => {
    const { server, url } = await start({ maxMessageSize: 1024 });
    const client = await dial(url);
    const peer = await nextPeer(server);
    void client.send(1, new Uint8Array(4096)).catch(() => {});
    const info = await peer.wait();
    expect({ code: info.code, error: info.error?.code }).toEqual({ code: 1009, error: "too_large" });
  });
});

function encodeFrameHex(number: number, flag: number, route: number, data: string): string {
  return Buffer.from(encodeFrame({ number, flag, route, data: bytes(data) })).toString("hex");
}

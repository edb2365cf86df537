import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { BimuxError, Flag, Muxer, PeerRegistry, decodeFrame, dial, dialReconnecting, encodeFrame, serve, type BimuxServer } from "../src/index.js";
import { createDuplexPair } from "@bimux/core/testing";
import { bytes, rejection, text } from "../../../test-support/helpers.js";
import { nextPeer, start } from "./servers.js";


describe("serve and dial over real WebSockets", () => {
  it("lets the server call a dialed-in client, and the client call the server", async () => {
    const { server, url } = await start({ onRpc: (route, data) => bytes(`server ${route} ${text(data)}`) });
    const client = await dial(url, { onRpc: (route, data) => bytes(`client ${route} ${text(data)}`) });
    const peer = await nextPeer(server);
    expect(text(await peer.rpc(7, bytes("ping")))).toBe("client 7 ping");
    expect(text(await client.rpc(8, bytes("pong")))).toBe("server 8 pong");
    client.close();
  });

  it("answers a server that calls the instant a client connects", async () => {
    // ws can emit the first message in the same tick as 'open': nothing may be lost there.
    const replies: string[] = [];
    const { url } = await start({
      onConnection: (peer) => void peer.rpc(1, bytes("now")).then((r) => replies.push(text(r))),
    });
    const clients = await Promise.all(Array.from({ length: 20 }, () => dial(url, { handlers: { 1: (_r, d) => d } })));
    const reconnecting = await dialReconnecting(url, { handlers: { 1: (_r, d) => d } });
    const deadline = Date.now() + 2000;
    while (replies.length < 21 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(replies).toEqual(Array(21).fill("now"));
    for (const c of clients) c.close();
    reconnecting.close();
  });

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

  it("rejects 1,000 in-flight calls within 100 ms when the server closes the connection", async () => {
    const { server, url } = await start({ onRpc: () => new Promise<Uint8Array>(() => {}) });
    const client = await dial(url);
    const peer = await nextPeer(server);
    const calls = Array.from({ length: 1000 }, (_, i) => rejection(client.rpc(i, bytes("x"))));
    while (peer.servingCalls < 1000) await new Promise((r) => setTimeout(r, 5));
    const started = performance.now();
    peer.close(1000, "done here");
    const errors = await Promise.all(calls);
    expect(performance.now() - started).toBeLessThan(100);
    expect(errors.every((e) => e.code === "closed")).toBe(true);
    expect(await client.wait()).toMatchObject({ code: 1000, reason: "done here", initiator: "remote" });
  });

  it("rejects 1,000 in-flight calls within 100 ms when the client closes, on both sides", async () => {
    const { server, url } = await start({ onRpc: () => new Promise<Uint8Array>(() => {}) });
    const client = await dial(url, { onRpc: () => new Promise<Uint8Array>(() => {}) });
    const peer = await nextPeer(server);
    const mine = Array.from({ length: 1000 }, () => rejection(client.rpc(1, bytes(""))));
    const theirs = Array.from({ length: 1000 }, () => rejection(peer.rpc(1, bytes(""))));
    while (peer.servingCalls < 1000 || client.servingCalls < 1000) await new Promise((r) => setTimeout(r, 5));
    const started = performance.now();
    client.close();
    const errors = await Promise.all([...mine, ...theirs]);
    expect(performance.now() - started).toBeLessThan(100);
    expect(errors.every((e) => e.code === "closed")).toBe(true);
  });

  it("rejects the calls of every client when the server shuts down, and ends the connections iterator", async () => {
    const { server, url } = await start({ onRpc: () => new Promise<Uint8Array>(() => {}) });
    const clients = await Promise.all([dial(url), dial(url), dial(url)]);
    const calls = clients.map((c) => rejection(c.rpc(1, bytes(""))));
    const iterated: Muxer[] = [];
    const iteration = (async () => {
      for await (const m of server.connections) iterated.push(m);
    })();
    while (iterated.length < 3) await new Promise((r) => setTimeout(r, 5));
    expect(server.peers.size).toBe(3);
    await server.close();
    expect((await Promise.all(calls)).map((e) => e.code)).toEqual(["closed", "closed", "closed"]);
    expect((await clients[0]!.wait()).code).toBe(1001);
    await iteration;
    expect(iterated).toHaveLength(3);
    expect(server.peers.size).toBe(0);
  });

  it("keeps live peers by id and forgets them when they leave", async () => {
    const onClose = vi.fn();
    const { server, url } = await start({ onConnection: (m, req) => (m.id = new URL(req.url!, "http://x").searchParams.get("agent") ?? m.id), onClose });
    const a = await dial(`${url}?agent=alpha`, { onRpc: () => bytes("I am alpha") });
    const b = await dial(`${url}?agent=beta`, { onRpc: () => bytes("I am beta") });
    while (server.peers.size < 2) await new Promise((r) => setTimeout(r, 5));
    expect(text(await server.peers.get("alpha")!.rpc(1, bytes("")))).toBe("I am alpha");
    expect(text(await server.peers.get("beta")!.rpc(1, bytes("")))).toBe("I am beta");
    server.peers.get("beta")!.id = "gamma";
    expect(server.peers.has("beta")).toBe(false);
    expect(text(await server.peers.get("gamma")!.rpc(1, bytes("")))).toBe("I am beta");
    a.close();
    while (server.peers.has("alpha")) await new Promise((r) => setTimeout(r, 5));
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(server.peers.size).toBe(1);
    b.close();
  });

  it("keeps the first peer of an id: a second connection taking it is closed, and the id is free once the first is gone", async () => {
    const { server, url } = await start({ onConnection: (m) => (m.id = "agent") });
    const first = await dial(url, { onRpc: () => bytes("first") });
    const second = await dial(url, { onRpc: () => bytes("second") });
    expect((await second.wait()).code).toBe(1008);
    expect(text(await server.peers.get("agent")!.rpc(1, bytes("")))).toBe("first");
    first.close();
    while (server.peers.size > 0) await new Promise((r) => setTimeout(r, 5));
    expect(server.peers.has("agent")).toBe(false);
    const third = await dial(url, { onRpc: () => bytes("third") });
    while (!server.peers.has("agent")) await new Promise((r) => setTimeout(r, 5));
    expect(text(await server.peers.get("agent")!.rpc(1, bytes("")))).toBe("third");
    third.close();
  });

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

  it("rejects invalid options with invalid_argument and leaves no connection open", async () => {
    const { server, url } = await start();
    const error = await rejection(dial(url, { timeout: -1 }));
    expect(error.code).toBe("invalid_argument");
    const peer = await nextPeer(server);
    expect((await peer.wait()).code).toBe(1000);
    expect(server.peers.size).toBe(0);
  });

  it("fails to dial with `unavailable` when nothing listens", async () => {
    const { server } = await start();
    const port = server.port;
    await server.close();
    const error = await rejection(dial(`ws://127.0.0.1:${port}/mux`));
    expect(error.code).toBe("unavailable");
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

function encodeFrameHex(number: number, flag: number, route: number, data: string): string {
  return Buffer.from(encodeFrame({ number, flag, route, data: bytes(data) })).toString("hex");
}

it("PeerRegistry: an id names one live muxer; with the replace policy the newest takes it and the older is closed", () => {
  const make = (peers: PeerRegistry) => {
    const m = new Muxer(createDuplexPair()[0], { keepalive: false, onIdChange: (mx, prev) => void peers.rename(mx, prev) });
    peers.add(m);
    return m;
  };
  const refusing = new PeerRegistry();
  const a = make(refusing), b = make(refusing);
  a.id = "user-1";
  b.id = "user-1"; // refused: b is closed and not filed
  expect([refusing.get("user-1"), b.closed, refusing.size]).toEqual([a, true, 1]);
  const replacing = new PeerRegistry("replace");
  const c = make(replacing), d = make(replacing);
  c.id = "user-1";
  d.id = "user-1"; // the client reconnected: the newer wins
  expect([replacing.get("user-1"), c.closed, replacing.size]).toEqual([d, true, 1]);
});

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { BimuxError, Flag, Muxer, PeerRegistry, decodeFrame, dial, encodeFrame, serve, type BimuxServer } from "../src/index.js";
import { createDuplexPair } from "@bimux/core/testing";
import { bytes, rejection, text, until } from "../../../test-support/helpers.js";
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
    const reconnecting = await dial(url, { reconnect: true, handlers: { 1: (_r, d) => d } });
    await until(() => replies.length >= 21);
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
    const settle = (into: string[]) => (e: BimuxError) => void into.push(e.code);
    for (let i = 0; i < 1000; i++) {
      client.rpc(1, bytes(""), { timeout: 60_000 }).then(() => void mine.push("replied"), settle(mine));
      peer.rpc(1, bytes(""), { timeout: 60_000 }).then(() => void theirs.push("replied"), settle(theirs));
    }
    while (peer.servingCalls < 1000 || client.servingCalls < 1000) await new Promise((r) => setTimeout(r, 5));
    const ends = [client.wait().then(() => void mine.push("wait")), peer.wait().then(() => void theirs.push("wait"))];
    client.close();
    await Promise.all(ends);
    expect(mine).toEqual([...Array<string>(1000).fill("closed"), "wait"]);
    expect(theirs).toEqual([...Array<string>(1000).fill("closed"), "wait"]);
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

  it("finds the other peer of a shared id once the one that took it last is gone", async () => {
    const { server, url } = await start({ onConnection: (m) => (m.id = "agent") });
    const first = await dial(url, { onRpc: () => bytes("first") });
    const second = await dial(url, { onRpc: () => bytes("second") });
    while (server.peers.size < 2) await new Promise((r) => setTimeout(r, 5));
    expect(text(await server.peers.get("agent")!.rpc(1, bytes("")))).toBe("second");
    second.close();
    while (server.peers.size > 1) await new Promise((r) => setTimeout(r, 5));
    expect(text(await server.peers.get("agent")!.rpc(1, bytes("")))).toBe("first");
    first.close();
    while (server.peers.size > 0) await new Promise((r) => setTimeout(r, 5));
    expect(server.peers.has("agent")).toBe(false);
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

it("PeerRegistry: with three live muxers on one id, losing the latest taker finds the one that took it next-latest", () => {
  const peers = new PeerRegistry();
  const make = () => {
    const m = new Muxer(createDuplexPair()[0], { keepalive: false, onIdChange: (mx, prev) => void peers.rename(mx, prev) });
    peers.add(m);
    return m;
  };
  const a = make(), b = make(), c = make();
  a.id = "user-1"; // first connection (by now half-dead)
  b.id = "user-1"; // the client reconnected
  c.id = "user-1"; // and again
  expect(peers.get("user-1")).toBe(c);
  peers.remove(c); // the latest drops
  expect(peers.get("user-1")).toBe(b); // fails: a, the oldest
});

// dial() and dialReconnecting() on ws: connecting, what it offers and sends with the upgrade,
// how it fails (unavailable, aborted, invalid_argument), and reconnecting.
import { createServer as createTcp, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { BimuxError, type CallContext, type ConnectionState, dial, dialReconnecting } from "@bimux/node";
import { bytes, rejection, sleep, text, until } from "../../../test-support/helpers.js";
import { nextPeer, onCleanup, serveOn, start } from "./fixtures/servers.js";
import { caught, slowAuth } from "./fixtures/raw.js";

describe("dial", () => {
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
    await until(() => replies.length >= 21);
    expect(replies).toEqual(Array(21).fill("now"));
    for (const c of clients) c.close();
    reconnecting.close();
  });

  it("sends its headers with the upgrade, and with extensions: false offers no extensions", async () => {
    const seen: Array<Record<string, unknown>> = [];
    const s = await serveOn({ path: "/mux", authenticate: (req) => (seen.push({ ...req.headers }), true) });
    const c = await dial(`ws://127.0.0.1:${s.port}/mux`, { keepalive: false, headers: { authorization: "Bearer t" }, extensions: false });
    onCleanup(() => c.close());
    expect(seen[0]!.authorization).toBe("Bearer t");
    expect(seen[0]!["x-bimux-extensions"]).toBeUndefined();
    expect(c.extensions).toBe(false);
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

  it("rejects with unavailable when the connection cannot be made, with reconnect too", async () => {
    const tcp = createTcp();
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    const port = (tcp.address() as AddressInfo).port;
    await new Promise<void>((r) => tcp.close(() => r()));
    expect((await rejection(dial(`ws://127.0.0.1:${port}/`))).code).toBe("unavailable");
    const e = await rejection(dialReconnecting(`ws://127.0.0.1:${port}/`, { reconnect: { maxAttempts: 1 } }));
    expect(e.code).toBe("unavailable");
  });

  it("handshakeTimeout gives up on a server that never answers, with unavailable, not at the default timeout", async () => {
    const socks: import("node:net").Socket[] = [];
    const tcp = createTcp((s) => void socks.push(s));
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    onCleanup(() => new Promise<void>((r) => { socks.forEach((s) => s.destroy()); tcp.close(() => r()); }));
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
    expect(e.message).toMatch(/no answer to the handshake/);
  });

  it("aborting dial() mid-handshake rejects with aborted and throws nothing uncaught", async () => {
    const { url } = await start({ authenticate: slowAuth });
    const errors = await caught("uncaughtException", async () => {
      const controller = new AbortController();
      const dialing = dial(url, { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      expect((await rejection(dialing)).code).toBe("aborted");
    });
    expect(errors.map(String)).toEqual([]);
  });
});

describe("dial: negotiation of the extensions", () => {
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

describe("dial: reconnecting", () => {
  it("with reconnect, comes back after the server restarts, and the server can call the client again", async () => {
    const first = await start();
    const port = first.server.port;
    const states: ConnectionState[] = [];
    const client = await dialReconnecting(first.url, {
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

  it("with reconnect, rejects a first dial that can never succeed once out of attempts", async () => {
    const { server, url } = await start();
    await server.close();
    const error = await rejection(dialReconnecting(url, { reconnect: { maxAttempts: 2, initialDelay: 5 } }));
    // The reason it could not connect, as a plain dial gives it.
    expect(error.code).toBe("unavailable");
    expect(error.rawMessage).toMatch(/^cannot connect to ws:\/\/127\.0\.0\.1:\d+\/mux/);
  });

  it("aborting a reconnecting dial mid-handshake throws nothing uncaught, and rejects with aborted", async () => {
    const { url } = await start({ authenticate: slowAuth });
    let code: string | undefined;
    const errors = await caught("uncaughtException", async () => {
      const controller = new AbortController();
      const dialing = dialReconnecting(url, { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      code = (await rejection(dialing)).code;
    });
    expect(errors.map(String)).toEqual([]);
    expect(code).toBe("aborted");
  });

  it("dialReconnecting with an already aborted signal does not connect", async () => {
    const { server, url } = await start();
    const outcome = await dialReconnecting(url, { signal: AbortSignal.abort() }).then(
      (client) => (client.close(), "connected"),
      (e) => e.code,
    );
    expect(outcome).toBe("aborted");
    expect(server.peers.size).toBe(0);
  });
});

// @bimux/bun's server, in Bun: fixtures/bun-server.ts serves the BUILT @bimux/bun from
// Bun.serve in a Bun process, and this test (in Node) dials it with the BUILT @bimux/node,
// as an application would, and with plain WebSocket handshakes. It checks what @bimux/node's
// own server guarantees: calls and one-way messages both ways, the extensions negotiated
// (a caller's deadline and cancel reach the handler), typed error replies, the size limit
// (1009), authenticate's refusals as typed errors, and clients that offer no extensions.
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { describe, expect, it } from "vitest";
import { dial, type Muxer } from "../../node/dist/index.js";
import { bytes, rejection, text } from "../../../test-support/helpers.js";
import { useBunFixture, within, type Ports } from "./fixtures/bun-process.js";

const fixture = useBunFixture();
const { opened } = fixture;

const url = (server: keyof Ports, path = "/mux") => `ws://127.0.0.1:${fixture.ports[server]}${path}`;

/** Dials with the built @bimux/node, within a bound; closed after the file. */
async function connect(server: keyof Ports, options: Parameters<typeof dial>[1] = {}): Promise<Muxer> {
  const muxer = await within(dial(url(server), { handshakeTimeout: 5000, ...options }), 10_000, `dial ${server}`);
  opened.push(muxer);
  return muxer;
}

/** A one-way handler's next message on its route, as a promise. */
function inbox(): { handler: (_route: number, data: Uint8Array) => void; next: () => Promise<string> } {
  const waiting: Array<(value: string) => void> = [];
  const arrived: string[] = [];
  return {
    handler: (_route, data) => {
      const wake = waiting.shift();
      if (wake) wake(text(data));
      else arrived.push(text(data));
    },
    next: () => within(arrived.length ? Promise.resolve(arrived.shift()!) : new Promise<string>((resolve) => waiting.push(resolve)), 5000, "a one-way message"),
  };
}

/** The server's view of a connection: its id and whether it negotiated the extensions (route 13). */
async function whoami(muxer: Muxer): Promise<{ id: string; extensions: boolean }> {
  return JSON.parse(text(await within(muxer.rpc(13, new Uint8Array(0)), 5000, "whoami"))) as { id: string; extensions: boolean };
}

/** A WebSocket handshake by hand, with `headers`: the status and the headers the server answered. */
function handshake(port: number, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return within(
    new Promise((resolve, reject) => {
      const req = httpRequest({
        host: "127.0.0.1",
        port,
        path: "/mux",
        headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
      });
      req.on("upgrade", (res, socket) => {
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      });
      req.on("response", (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      });
      req.on("error", reject);
      req.end();
    }),
    5000,
    "a handshake",
  );
}

describe("a Bun server (bunServer on Bun.serve) and a @bimux/node client", () => {
  it("call each other, and send each other one-way messages", async () => {
    const back = inbox();
    const client = await connect("main", {
      handlers: { 8: (_route, data) => bytes(`client got ${text(data)}`) },
      onewayHandlers: { 11: back.handler },
    });
    // Client to server.
    expect(text(await within(client.rpc(1, bytes("hello bun")), 5000, "echo"))).toBe("hello bun");
    expect(text(await within(client.rpc(3, bytes("x")), 5000, "route 3"))).toBe("ts:x");
    // Server to client: route 6 answers with what the server's call to the client's route 8 got.
    expect(text(await within(client.rpc(6, bytes("ping")), 5000, "server to client"))).toBe("client got ping");
    // One-way both ways: the server answers a one-way message on route 10 with one on route 11.
    await client.send(10, bytes("note"));
    expect(await back.next()).toBe("got: note");
    // Many calls in flight at once all come back, each to its caller.
    const replies = await within(Promise.all(Array.from({ length: 200 }, (_, i) => client.rpc(1, bytes(`m${i}`)))), 10_000, "200 calls");
    expect(replies.map(text)).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));
  });

  it("deliver what the server sent just before it closed, then the close", async () => {
    const back = inbox();
    const client = await connect("main", { onewayHandlers: { 11: back.handler } });
    await client.send(15, bytes("bye"));
    expect(await back.next()).toBe("last: bye");
    const info = await within(client.wait(), 5000, "the close");
    expect([info.code, info.reason]).toEqual([4000, "said it"]);
  });

  it("negotiate the extensions: a caller's deadline and its abort reach the handler", async () => {
    const told = inbox();
    const client = await connect("main", { onewayHandlers: { 12: told.handler } });
    expect(client.extensions).toBe(true);
    expect((await whoami(client)).extensions).toBe(true);
    // Route 9 never answers; it tells (route 12) what ended the wait, which only the extensions can carry.
    expect((await rejection(client.rpc(9, new Uint8Array(0), { timeout: 100 }))).code).toBe("timeout");
    expect(await told.next()).toBe("aborted: timeout");
    const controller = new AbortController();
    const call = client.rpc(9, new Uint8Array(0), { timeout: 60_000, signal: controller.signal });
    // The request is on the wire once the server answers a later call on the same connection.
    await whoami(client);
    controller.abort();
    expect((await rejection(call)).code).toBe("aborted");
    expect(await told.next()).toBe("aborted: aborted");
  });

  it("answer a handler's BimuxError with its code, and a missing route with unimplemented", async () => {
    const client = await connect("main");
    const denied = await rejection(client.rpc(4, bytes("boom")));
    expect(denied.code).toBe("permission_denied");
    expect(denied.message).toContain("not yours");
    expect((await rejection(client.rpc(5, bytes("anyone?")))).code).toBe("unimplemented");
    // The connection outlives both.
    expect(text(await client.rpc(1, bytes("still here")))).toBe("still here");
  });

  it("close a connection whose message is over maxMessageSize with 1009", async () => {
    const client = await connect("small");
    expect(text(await client.rpc(1, new Uint8Array(1000).fill(97)))).toBe("a".repeat(1000));
    expect((await rejection(client.rpc(1, new Uint8Array(2048)))).code).toBe("closed");
    const info = await within(client.wait(), 5000, "the close");
    expect(info.code).toBe(1009);
    expect(info.initiator).toBe("remote");
    // Bun refused it (its maxPayloadLength), while reading: the muxer, which would refuse it
    // too once whole, says "received N bytes" instead.
    expect(info.reason).not.toMatch(/^received/);
  });

  it("refuse what authenticate refuses, as typed errors with the HTTP status, and name whom it accepts", async () => {
    const anonymous = await rejection(dial(url("auth"), { handshakeTimeout: 5000 }));
    expect([anonymous.code, anonymous.status]).toEqual(["unauthenticated", 401]);
    const banned = await rejection(dial(url("auth"), { handshakeTimeout: 5000, headers: { authorization: "Bearer banned" } }));
    expect([banned.code, banned.status]).toEqual(["permission_denied", 403]);
    expect(banned.message).toContain("banned");
    const alice = await connect("auth", { headers: { authorization: "Bearer good" } });
    expect(await whoami(alice)).toEqual({ id: "alice", extensions: true });
    // A hook that throws answers 500, and the server's onError hears why.
    const broken = await rejection(dial(url("auth"), { handshakeTimeout: 5000, headers: { authorization: "Bearer throw" } }));
    expect([broken.code, broken.status]).toEqual(["unavailable", 500]);
    expect(await fixture.bun.next((l) => l.event === "error" && l.server === "auth")).toMatchObject({ code: "internal", message: expect.stringContaining("the token store is down") });
  });

  it("refuse a browser page of another origin with 403, and take one of the same origin", async () => {
    const host = `127.0.0.1:${fixture.ports.main}`;
    expect((await handshake(fixture.ports.main, { origin: "https://evil.example", host })).status).toBe(403);
    expect((await handshake(fixture.ports.main, { origin: `http://${host}`, host })).status).toBe(101);
  });

  it("close(): every connection closed with 1001, and later upgrades answered 503", async () => {
    const client = await connect("closing");
    expect(text(await client.rpc(16, new Uint8Array(0)))).toBe("closing");
    const info = await within(client.wait(), 5000, "the close");
    expect([info.code, info.reason]).toEqual([1001, "server closing"]);
    expect(await fixture.bun.next((l) => l.event === "close-done")).toMatchObject({ peers: 0 });
    const late = await rejection(dial(url("closing"), { handshakeTimeout: 5000 }));
    expect([late.code, late.status]).toEqual(["unavailable", 503]);
  });

  it("serve a client that offers no extensions (as Go's) without them, both ways", async () => {
    const client = await connect("main", { extensions: false, handlers: { 8: (_route, data) => bytes(`plain got ${text(data)}`) } });
    expect(client.extensions).toBe(false);
    expect((await whoami(client)).extensions).toBe(false);
    expect(text(await client.rpc(1, bytes("plain")))).toBe("plain");
    expect(text(await client.rpc(6, bytes("ping")))).toBe("plain got ping");
  });

  it("negotiate in the handshake as @bimux/node's server does: the header, the subprotocol, and no other subprotocol", async () => {
    // No offer: a plain WebSocket, as Go's dialer makes.
    const plain = await handshake(fixture.ports.main, {});
    expect(plain.status).toBe(101);
    expect(plain.headers["sec-websocket-protocol"]).toBeUndefined();
    expect(plain.headers["x-bimux-extensions"]).toBeUndefined();
    // Node clients offer the extensions in a header, answered in kind.
    expect((await handshake(fixture.ports.main, { "x-bimux-extensions": "bimux.ext.v1" })).headers["x-bimux-extensions"]).toBe("bimux.ext.v1");
    // Browsers offer them as a subprotocol among the application's own: the server picks the extensions'.
    expect((await handshake(fixture.ports.main, { "sec-websocket-protocol": "app.v1, bimux.ext.v1" })).headers["sec-websocket-protocol"]).toBe("bimux.ext.v1");
    // Offered only the application's own, it picks none (Bun by itself would pick the first).
    const other = await handshake(fixture.ports.main, { "sec-websocket-protocol": "app.v1" });
    expect(other.status).toBe(101);
    expect(other.headers["sec-websocket-protocol"]).toBeUndefined();
  });

  it("answer a request that is not a WebSocket upgrade with 426", async () => {
    const response = await within(fetch(`http://127.0.0.1:${fixture.ports.main}/mux`), 5000, "a GET");
    expect(response.status).toBe(426);
    expect(response.headers.get("upgrade")).toBe("websocket");
    await response.arrayBuffer();
  });
});

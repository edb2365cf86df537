import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BimuxError, EXTENSIONS_PROTOCOL, Flag, decodeFrame, dial, dialReconnecting, encodeFrame, type Muxer } from "../src/index.js";
import { FakeWebSocket } from "./fake-websocket.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

beforeEach(() => {
  FakeWebSocket.reset();
  vi.stubGlobal("WebSocket", FakeWebSocket);
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

/** Dials, lets the fake server accept, and returns both ends. */
async function connected(options: Parameters<typeof dial>[1] = {}, protocol = ""): Promise<[Muxer, FakeWebSocket]> {
  const dialing = dial("ws://127.0.0.1:1/mux", { keepalive: false, ...options });
  const ws = FakeWebSocket.only();
  ws.accept(protocol);
  return [await dialing, ws];
}

describe("dial in a browser", () => {
  it("offers the extensions after the page's own subprotocols, and uses them when the server agrees", async () => {
    const [muxer, ws] = await connected({ protocols: ["app.v2"] }, EXTENSIONS_PROTOCOL);
    expect(ws.protocols).toEqual(["app.v2", EXTENSIONS_PROTOCOL]);
    expect(muxer.extensions).toBe(true);
  });

  it("connects to a server that takes no subprotocol (the Go original) by dialing again without the offer, once per URL", async () => {
    const url = "ws://127.0.0.1:2/go-server";
    const dialing = dial(url, { keepalive: false });
    // The server answered 101 without a subprotocol; the browser fails such a handshake: close 1006, never open.
    FakeWebSocket.made[0]!.fail();
    await vi.waitFor(() => expect(FakeWebSocket.made).toHaveLength(2));
    expect(FakeWebSocket.made[1]!.protocols).toEqual([]);
    FakeWebSocket.made[1]!.accept("");
    const muxer = await dialing;
    expect(muxer.extensions).toBe(false);
    // The next dial there goes straight to the plain handshake.
    const again = dial(url, { keepalive: false });
    expect(FakeWebSocket.made[2]!.protocols).toEqual([]);
    FakeWebSocket.made[2]!.accept("");
    expect((await again).extensions).toBe(false);
  });

  // Deno's WebSocket reports a connection that failed or dropped as close code 0, where the spec says 1006.
  it("reads close code 0 (Deno's for a failed handshake) as 1006, and still dials again without the offer", async () => {
    const url = "ws://127.0.0.1:4/go-server";
    const dialing = dial(url, { keepalive: false });
    FakeWebSocket.made[0]!.dispatchEvent(new Event("error"));
    FakeWebSocket.made[0]!.end(0);
    await vi.waitFor(() => expect(FakeWebSocket.made).toHaveLength(2));
    expect(FakeWebSocket.made[1]!.protocols).toEqual([]);
    FakeWebSocket.made[1]!.accept("");
    expect((await dialing).extensions).toBe(false);
  });

  it("ends the muxer with 1006, not 0, when the connection drops in Deno", async () => {
    const [muxer, ws] = await connected();
    ws.end(0);
    expect(await muxer.wait()).toMatchObject({ code: 1006, initiator: "remote" });
  });

  it("does not dial again when the first handshake timed out or was refused for another reason", async () => {
    const refused = rejectionOf(dial("ws://127.0.0.1:3/down", { keepalive: false }));
    FakeWebSocket.made[0]!.end(1013, "try later");
    expect((await refused).code).toBe("unavailable");
    expect(FakeWebSocket.made).toHaveLength(1);
  });

  it("offers no extensions when asked not to", async () => {
    const [muxer, ws] = await connected({ extensions: false });
    expect(ws.protocols).toEqual([]);
    expect(muxer.extensions).toBe(false);
  });

  it("sends calls as binary frames and resolves them with the reply", async () => {
    const [muxer, ws] = await connected();
    const reply = muxer.rpc(7, bytes("ping"));
    const request = decodeFrame(ws.sent[0]!);
    expect(request).toMatchObject({ flag: Flag.request, route: 7 });
    expect(text(request.data)).toBe("ping");
    ws.receive(encodeFrame({ number: request.number, flag: Flag.response, route: 7, data: bytes("pong") }));
    expect(text(await reply)).toBe("pong");
  });

  it("serves a request that arrives in the same task as the open event, before dial has resolved", async () => {
    const dialing = dial("ws://127.0.0.1:1/mux", {
      keepalive: false,
      handlers: { 3: (_route, data) => bytes(`page got ${text(data)}`) },
    });
    const ws = FakeWebSocket.only();
    ws.accept();
    ws.receive(encodeFrame({ number: 1, flag: Flag.request, route: 3, data: bytes("early") }));
    await dialing;
    await vi.waitFor(() => expect(ws.sent).toHaveLength(1));
    const response = decodeFrame(ws.sent[0]!);
    expect(response).toMatchObject({ number: 1, flag: Flag.response, route: 3 });
    expect(text(response.data)).toBe("page got early");
  });

  it("sees a close that happens before dial has resolved", async () => {
    const dialing = dial("ws://127.0.0.1:1/mux", { keepalive: false });
    const ws = FakeWebSocket.only();
    ws.accept();
    ws.end(1001, "server restarting");
    const muxer = await dialing;
    expect(await muxer.wait()).toMatchObject({ code: 1001, reason: "server restarting", initiator: "remote" });
  });

  it("closes with a code a browser accepts when the muxer closes with one it refuses", async () => {
    const [muxer, ws] = await connected();
    muxer.close(1001, "page hidden");
    expect(ws.closedWith).toEqual({ code: 4001, reason: "page hidden" });
    expect(muxer.closeDetails).toMatchObject({ code: 1001, initiator: "local" });
  });

  it("keeps codes a browser accepts as they are", async () => {
    const [muxer, ws] = await connected();
    muxer.close(4321, "custom");
    expect(ws.closedWith).toEqual({ code: 4321, reason: "custom" });
  });

  it("rejects a text message by closing with unsupported data, sent as 4003", async () => {
    const [muxer, ws] = await connected();
    ws.receive("hello?");
    const info = await muxer.wait();
    expect(info).toMatchObject({ code: 1003, initiator: "local" });
    expect(info.error?.code).toBe("protocol");
    expect(ws.closedWith?.code).toBe(4003);
  });

  it("fails a call at once when the socket is already closing, instead of losing it", async () => {
    const [muxer, ws] = await connected();
    ws.readyState = 2;
    const error = await muxer.rpc(1, bytes("late"), { timeout: 1000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BimuxError);
    expect((error as BimuxError).code).toBe("closed");
  });

  it("closes the socket when the muxer options are invalid", async () => {
    const dialing = dial("ws://127.0.0.1:1/mux", { timeout: -1 });
    FakeWebSocket.only().accept();
    const error = await dialing.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as BimuxError).code).toBe("invalid_argument");
    expect(FakeWebSocket.only().closedWith?.code).toBe(1000);
  });
});

describe("dialReconnecting and odd close codes", () => {
  it("one failed connection to a bimux-ts server turns the extensions off for a minute, not for the page's life", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const url = "ws://127.0.0.1:3/bimux-ts-server";
    // The bimux-ts server is briefly unreachable (restarting, network blip): the browser reports close 1006.
    const first = dial(url, { keepalive: false });
    FakeWebSocket.made[0]!.fail();
    await vi.waitFor(() => expect(FakeWebSocket.made).toHaveLength(2));
    // It is back for the immediate second attempt, which offered nothing, so it picks nothing.
    FakeWebSocket.made[1]!.accept("");
    (await first).close();

    // Ten minutes later, a new dial to the same, healthy, extension-capable server.
    vi.setSystemTime(Date.now() + 10 * 60_000);
    FakeWebSocket.reset();
    const later = dial(url, { keepalive: false });
    const ws = FakeWebSocket.only();
    ws.accept(ws.protocols.includes(EXTENSIONS_PROTOCOL) ? EXTENSIONS_PROTOCOL : "");
    const muxer = await later;
    expect(ws.protocols).toContain(EXTENSIONS_PROTOCOL); // fails: the URL is remembered as "plain" forever
    expect(muxer.extensions).toBe(true);
    muxer.close();
  });

  it("rejects with the reason it could not connect once out of attempts, as dial does", async () => {
    const dialing = dialReconnecting("ws://127.0.0.1:4/down", { keepalive: false, extensions: false, reconnect: { maxAttempts: 1 } });
    FakeWebSocket.made[0]!.end(1013, "try later");
    const error = await rejectionOf(dialing);
    expect([error.code, error.rawMessage]).toEqual(["unavailable", "cannot connect to ws://127.0.0.1:4/down (close 1013)"]);
  });

  it("dialReconnecting with an already aborted signal rejects with aborted and opens no socket", async () => {
    const dialing = dialReconnecting("ws://127.0.0.1:1/mux", { signal: AbortSignal.abort(), keepalive: false });
    const outcome = dialing.then(
      (client) => (client.close(), "connected"),
      (e: BimuxError) => e.code,
    );
    // A server that accepts whatever socket was opened.
    await new Promise((r) => setTimeout(r, 10));
    for (const ws of FakeWebSocket.made) if (ws.readyState === 0) ws.accept();
    expect(await outcome).toBe("aborted");
    expect(FakeWebSocket.made.length).toBe(0);
  });

  it("closing with a code the browser refuses still closes the socket", async () => {
    const dialing = dial("ws://127.0.0.1:1/mux", { keepalive: false, onError: () => {} });
    const ws = FakeWebSocket.only();
    ws.accept();
    const muxer = await dialing;
    muxer.close(2000, "app code");
    expect(muxer.closed).toBe(true);
    expect(ws.readyState).toBeGreaterThanOrEqual(2); // closing or closed
  });

  it("aborting dialReconnecting while it connects rejects with aborted", async () => {
    const controller = new AbortController();
    const dialing = dialReconnecting("ws://127.0.0.1:1/mux", { signal: controller.signal, keepalive: false });
    controller.abort();
    const error = await dialing.then(() => undefined, (e: BimuxError) => e);
    expect(error?.code).toBe("aborted");
  });
});

async function rejectionOf(p: Promise<unknown>): Promise<BimuxError> {
  return p.then(
    () => {
      throw new Error("resolved");
    },
    (e: BimuxError) => e,
  );
}

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openWebSocket as open, type WebSocketTransport } from "@bimux/core/transport";
import { BimuxError } from "../src/index.js";
import { FakeWebSocket } from "./fake-websocket.js";

// The shared dial's opening of one socket (core's transport/dial.ts) over the page's WebSocket, as @bimux/browser's dial uses it.
const transport: WebSocketTransport<WebSocket> = { create: (url, protocols) => new WebSocket(url, protocols) };
const openWebSocket = (url: string, { protocols = [], signal, timeout }: { protocols?: string[]; signal?: AbortSignal; timeout?: number } = {}) =>
  open(url, protocols, { handshakeTimeout: timeout, signal }, transport);

beforeEach(() => {
  FakeWebSocket.reset();
  vi.stubGlobal("WebSocket", FakeWebSocket);
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

async function rejection(p: Promise<unknown>): Promise<BimuxError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BimuxError);
  return error as BimuxError;
}

describe("openWebSocket", () => {
  it("resolves once the handshake is done, with the subprotocol the server chose", async () => {
    const opening = openWebSocket("ws://127.0.0.1:1/mux", { protocols: ["a", "b"] });
    const ws = FakeWebSocket.only();
    expect(ws.protocols).toEqual(["a", "b"]);
    ws.bufferedAmount = 42;
    ws.accept("b");
    const duplex = await opening;
    expect(ws.binaryType).toBe("arraybuffer");
    expect(duplex.protocol).toBe("b");
    expect(duplex.bufferedAmount).toBe(42);
  });

  it("rejects with unavailable when the connection fails before it opens", async () => {
    const opening = openWebSocket("ws://127.0.0.1:1/mux");
    FakeWebSocket.only().fail();
    const error = await rejection(opening);
    expect(error.code).toBe("unavailable");
    expect(error.rawMessage).toContain("ws://127.0.0.1:1/mux");
  });

  it("rejects with unavailable, naming the code, when the socket closes before it opens", async () => {
    const opening = openWebSocket("ws://127.0.0.1:1/mux");
    FakeWebSocket.only().end(1013, "try again later");
    const error = await rejection(opening);
    expect(error.code).toBe("unavailable");
    expect(error.rawMessage).toContain("1013");
  });

  it("names close code 0 (Deno's for a failed connection) 1006, as the spec does", async () => {
    const opening = openWebSocket("ws://127.0.0.1:1/mux");
    FakeWebSocket.only().end(0);
    const error = await rejection(opening);
    expect(error.code).toBe("unavailable");
    expect(error.cause).toBe(1006);
    expect(error.rawMessage).toContain("close 1006");
  });

  it("gives up after the handshake timeout and closes the socket", async () => {
    vi.useFakeTimers();
    const opening = openWebSocket("ws://127.0.0.1:1/mux", { timeout: 500 });
    const settled = rejection(opening);
    await vi.advanceTimersByTimeAsync(499);
    expect(FakeWebSocket.only().closedWith).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    const error = await settled;
    expect(error.code).toBe("unavailable");
    expect(error.rawMessage).toContain("no answer to the handshake within 500 ms");
    expect(FakeWebSocket.only().closedWith).toBeDefined();
  });

  it("stops connecting when its signal aborts, and closes the socket", async () => {
    const controller = new AbortController();
    const opening = openWebSocket("ws://127.0.0.1:1/mux", { signal: controller.signal });
    controller.abort(new Error("user left"));
    const error = await rejection(opening);
    expect(error.code).toBe("aborted");
    expect(FakeWebSocket.only().closedWith).toBeDefined();
    // A late open changes nothing: the promise has settled and nothing listens.
    FakeWebSocket.only().accept();
  });

  it("does not even open a socket for an already aborted signal", async () => {
    const error = await rejection(openWebSocket("ws://127.0.0.1:1/mux", { signal: AbortSignal.abort() }));
    expect(error.code).toBe("aborted");
    expect(FakeWebSocket.made).toHaveLength(0);
  });

  it("rejects a URL the browser refuses with invalid_argument", async () => {
    const error = await rejection(openWebSocket("not a url"));
    expect(error.code).toBe("invalid_argument");
  });

  it("rejects a timeout that is not a positive number", async () => {
    const error = await rejection(openWebSocket("ws://127.0.0.1:1/mux", { timeout: 0 }));
    expect(error.code).toBe("invalid_argument");
    expect(FakeWebSocket.made).toHaveLength(0);
  });
});

// The Muxer as a whole: calls both ways over one connection, its message size limit,
// its id, how it closes, and what it does with input that breaks the protocol.
import { afterEach, describe, expect, it, vi } from "vitest";
import { BimuxError, decodeFrame, type Duplex, type DuplexSink, encodeFrame, Flag, Muxer } from "@bimux/core";
import { createDuplexPair, type MemoryDuplex } from "@bimux/core/testing";
import { bytes, rejection, text } from "../../../../test-support/helpers.js";
import { extPair, flush, pair, rawPeer } from "../fixtures/muxers.js";
import { onFakeTime, settle } from "../../../../test-support/fake-time.js";

// Tests on fake time put the real clock back, whatever they assert.
afterEach(() => vi.useRealTimers());

describe("Muxer: calls both ways over one connection", () => {
  it("lets either side call the other over one connection", async () => {
    const { a, b } = pair(
      { onRpc: (route, data) => bytes(`a:${route}:${text(data)}`) },
      { onRpc: async (route, data) => bytes(`b:${route}:${text(data)}`) },
    );
    expect(text(await a.rpc(1, bytes("x")))).toBe("b:1:x");
    expect(text(await b.rpc(2, bytes("y")))).toBe("a:2:y");
  });

  it("numbers each side's messages from 1, shares the counter with one-way sends, and replies with the request's number and route", async () => {
    const { muxer, far, received } = rawPeer();
    void muxer.rpc(7, bytes("a"));
    void muxer.send(8, bytes("b"));
    void muxer.rpc(9, bytes("c"));
    await flush();
    expect(received.map((r) => decodeFrame(r))).toEqual([
      { number: 1, flag: Flag.request, route: 7, data: bytes("a") },
      { number: 2, flag: Flag.oneway, route: 8, data: bytes("b") },
      { number: 3, flag: Flag.request, route: 9, data: bytes("c") },
    ]);
    // The peer's numbers live in their own space: its request #1 does not touch our call #1.
    muxer.handle(5, () => bytes("pong"));
    far.send(encodeFrame({ number: 1, flag: Flag.request, route: 5, data: bytes("ping") }));
    await flush();
    expect(decodeFrame(received[3]!)).toEqual({ number: 1, flag: Flag.response, route: 5, data: bytes("pong") });
    expect(muxer.pendingCalls).toBe(2);
  });

  it("resolves hundreds of concurrent calls in both directions, each with its own reply", async () => {
    const handler = async (route: number, data: Uint8Array) => {
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      return bytes(`${route}:${text(data)}`);
    };
    const { a, b } = pair({ onRpc: handler }, { onRpc: handler });
    const calls: Array<Promise<void>> = [];
    for (let i = 0; i < 500; i++) {
      calls.push(a.rpc(i, bytes(`a${i}`)).then((r) => expect(text(r)).toBe(`${i}:a${i}`)));
      calls.push(b.rpc(i, bytes(`b${i}`)).then((r) => expect(text(r)).toBe(`${i}:b${i}`)));
    }
    await Promise.all(calls);
    expect(a.pendingCalls + b.pendingCalls).toBe(0);
  });

  it("lets a handler call back into the caller on the same connection", async () => {
    const { a } = pair(
      { handlers: { 2: () => bytes("from a") } },
      { handlers: { 1: async (_r, _d, m) => bytes(`b saw ${text(await m.rpc(2, bytes("")))}`) } },
    );
    expect(text(await a.rpc(1, bytes("")))).toBe("b saw from a");
  });

  it("rejects bad arguments with invalid_argument and sends nothing", async () => {
    const { muxer, received } = rawPeer();
    expect((await rejection(muxer.rpc(2 ** 31, bytes("")))).code).toBe("invalid_argument");
    expect((await rejection(muxer.rpc(1.5, bytes("")))).code).toBe("invalid_argument");
    expect((await rejection(muxer.rpc(1, "str" as unknown as Uint8Array))).code).toBe("invalid_argument");
    expect((await rejection(muxer.send(1, [1] as unknown as Uint8Array))).code).toBe("invalid_argument");
    expect((await rejection(muxer.rpc(1, bytes(""), { timeout: -1 }))).code).toBe("invalid_argument");
    await flush();
    expect(received).toHaveLength(0);
  });
});

describe("Muxer: message size limit", () => {
  it("closes with 1009 on an inbound message over the limit, and refuses to send one", async () => {
    const { a, b } = extPair({ maxMessageSize: 1000 }, { maxMessageSize: 100 });
    expect((await rejection(b.rpc(1, new Uint8Array(200)))).code).toBe("too_large");
    expect(b.closed).toBe(false);
    void a.send(1, new Uint8Array(500));
    const info = await b.wait();
    expect([info.code, info.error?.code]).toEqual([1009, "too_large"]);
  });

  it("sends a call whose frame is exactly maxMessageSize, and refuses one a byte larger with too_large", async () => {
    // frame: 08 01 | 18 01 | 22 len data  => 6 + data.length for data < 128
    const { a } = pair({ maxMessageSize: 16, keepalive: false }, { maxMessageSize: 16, keepalive: false, onRpc: () => undefined });
    expect((await a.rpc(1, new Uint8Array(10))).length).toBe(0);
    expect((await rejection(a.rpc(1, new Uint8Array(11)))).code).toBe("too_large");
  });
});

describe("Muxer: id", () => {
  it("keeps an id and tells onIdChange", () => {
    const onIdChange = vi.fn();
    const { muxer } = rawPeer({ id: "first", onIdChange });
    expect(muxer.id).toBe("first");
    muxer.id = "agent-1";
    expect(muxer.id).toBe("agent-1");
    expect(onIdChange).toHaveBeenCalledWith(muxer, "first");
  });
});

describe("Muxer: close", () => {
  it("rejects every pending call at once when the peer closes, not at their timeout", async () => {
    // Fake time that never moves: the calls can only settle through the close.
    const core = await onFakeTime(() => import("@bimux/core"));
    const [da, db] = createDuplexPair();
    const a = new core.Muxer(da, { keepalive: false });
    const b = new core.Muxer(db, { keepalive: false, onRpc: () => new Promise<Uint8Array>(() => {}) });
    const codes: string[] = [];
    for (let i = 0; i < 1000; i++) a.rpc(i, bytes(""), { timeout: 60_000 }).catch((e: BimuxError) => void codes.push(e.code));
    await settle();
    expect(b.servingCalls).toBe(1000);
    b.close(1001, "bye");
    await settle();
    expect(codes).toHaveLength(1000);
    expect(codes.every((code) => code === "closed")).toBe(true);
    expect(await a.wait()).toEqual({ code: 1001, reason: "bye", initiator: "remote" });
  });

  it("rejects every pending call synchronously on a local close, and later calls too", async () => {
    const { muxer } = rawPeer();
    const calls = Array.from({ length: 1000 }, () => rejection(muxer.rpc(1, bytes(""))));
    muxer.close();
    expect(muxer.pendingCalls).toBe(0);
    expect((await Promise.all(calls)).every((e) => e.code === "closed")).toBe(true);
    expect((await rejection(muxer.rpc(1, bytes("")))).code).toBe("closed");
    expect((await rejection(muxer.send(1, bytes("")))).code).toBe("closed");
    expect((await rejection(muxer.readPacket())).code).toBe("closed");
    expect(await muxer.wait()).toEqual({ code: 1000, reason: "", initiator: "local" });
  });

  it("rejects pending calls when the connection drops, and calls onClose once", async () => {
    const onClose = vi.fn();
    const { muxer, far } = rawPeer({ onClose });
    const call = rejection(muxer.rpc(1, bytes("")));
    (far as MemoryDuplex).drop();
    expect((await call).code).toBe("closed");
    muxer.close();
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(onClose).toHaveBeenCalledWith(muxer);
    expect((await muxer.wait()).code).toBe(1006);
  });

  it("reports who closed, with code and reason, in closeDetails and wait(), and calls onIdChange only when the id changes", async () => {
    const changes: string[] = [];
    const { a, b } = pair({ keepalive: false, id: "init", onIdChange: (m, prev) => changes.push(`${prev}->${m.id}`) }, { keepalive: false });
    a.id = "init";
    a.id = "x";
    expect(changes).toEqual(["init->x"]);
    expect(a.closeDetails).toBeUndefined();
    a.close(4001, "bye");
    expect(a.closeDetails).toEqual({ code: 4001, reason: "bye", initiator: "local" });
    expect(await b.wait()).toEqual({ code: 4001, reason: "bye", initiator: "remote" });
  });

  it("reports an onClose hook that throws instead of crashing", async () => {
    const onError = vi.fn();
    const { a } = extPair({ onError, onClose: () => { throw new Error("bad hook"); } });
    a.close();
    expect(onError).toHaveBeenCalledTimes(1);
  });

  it("onClose and onError both throwing still closes the transport", async () => {
    // Fake time that never moves: the peer must hear the close itself, not some timer.
    const core = await onFakeTime(() => import("@bimux/core"));
    const [da, db] = createDuplexPair();
    const a = new core.Muxer(da, {
      onClose: () => { throw new Error("hook"); },
      onError: () => { throw new Error("onError"); },
    });
    const b = new core.Muxer(db, {});
    try { a.close(); } catch {}
    let info: unknown = "hung";
    void b.wait().then((i) => (info = i));
    await settle();
    expect(info).not.toBe("hung");
  });

  it("still ends the connection when the close code it was given is one the transport refuses", async () => {
    const closes: number[] = [];
    const duplex: Duplex = {
      open: () => {},
      send: () => {},
      close: (code) => {
        closes.push(code);
        if (code !== 1000) throw new Error(`invalid close code ${code}`);
      },
      bufferedAmount: 0,
    };
    const reported: BimuxError[] = [];
    const muxer = new Muxer(duplex, { keepalive: false, onError: (e) => void reported.push(e) });
    muxer.close(999, "bad code");
    expect(closes).toEqual([999, 1000]);
    expect(reported.map((e) => e.rawMessage)).toEqual(["invalid close code 999"]);
    expect(muxer.closed).toBe(true);
  });
});

describe("Muxer: close reasons", () => {
  it("cuts a close reason over 123 UTF-8 bytes at a character boundary, keeping as much as fits", () => {
    const sent: string[] = [];
    const duplex: Duplex = { open: () => {}, send: () => {}, close: (_c, r) => void sent.push(r), bufferedAmount: 0 };
    new Muxer(duplex, { keepalive: false }).close(4000, "a" + "😀".repeat(60));
    const reason = sent[0]!;
    expect(reason).not.toContain("\uFFFD");
    expect(reason.endsWith("…")).toBe(true);
    expect(new TextEncoder().encode(reason).length).toBeLessThanOrEqual(123);
    expect(new TextEncoder().encode(reason).length).toBeGreaterThan(118);
    expect(("a" + "😀".repeat(60)).startsWith(reason.slice(0, -1))).toBe(true);
    const exact = "x".repeat(123);
    new Muxer({ ...duplex, close: (_c, r) => void sent.push(r) }, { keepalive: false }).close(4000, exact);
    expect(sent[1]).toBe(exact);
  });

  it("keeps a U+FFFD that the close reason itself has at the cut", () => {
    let sent = "";
    const duplex: Duplex = {
      open(_s: DuplexSink) {},
      send() {},
      close(_c, r) { sent = r; },
      bufferedAmount: 0,
      protocol: "",
    };
    const m = new Muxer(duplex, { keepalive: false });
    const reason = "x".repeat(117) + "\uFFFD" + "y".repeat(20); // U+FFFD fills bytes 117..119 exactly
    m.close(4000, reason);
    expect(sent).toBe("x".repeat(117) + "\uFFFD…");
  });

  it("keeps a leading U+FEFF of a close reason it cuts", () => {
    let sent = "";
    const duplex: Duplex = { open() {}, send() {}, close(_c, r) { sent = r; }, bufferedAmount: 0, protocol: "" };
    const m = new Muxer(duplex, { keepalive: false });
    const reason = "\uFEFF" + "x".repeat(200);
    m.close(4000, reason);
    expect(sent.startsWith("\uFEFF")).toBe(true);
  });
});

describe("Muxer: input that breaks the protocol", () => {
  it("closes with 1002 and a typed error on bytes that are not an envelope", async () => {
    const { muxer, far, closes } = rawPeer();
    const pending = rejection(muxer.rpc(1, bytes("")));
    far.send(Uint8Array.from([0x08, 0x80]));
    const info = await muxer.wait();
    expect(info.code).toBe(1002);
    expect(info.error?.code).toBe("protocol");
    const error = await pending;
    expect(error.code).toBe("closed");
    expect(error.cause).toBe(info.error);
    await flush();
    expect(closes[0]?.code).toBe(1002);
  });

  it("closes with 1002 on an unknown flag", async () => {
    const { muxer, far } = rawPeer();
    far.send(encodeFrame({ number: 1, flag: 9, route: 1, data: bytes("") }));
    const info = await muxer.wait();
    expect([info.code, info.error?.code, info.reason]).toEqual([1002, "protocol", "unknown flag 9"]);
  });

  it("closes with 1003 on a text message", async () => {
    const { muxer, far } = rawPeer();
    far.sendText("hello");
    expect((await muxer.wait()).code).toBe(1003);
  });

  it("ignores replies to calls it never made, and unknown fields", async () => {
    const { muxer, far } = rawPeer({ onOneway: vi.fn() });
    far.send(encodeFrame({ number: 42, flag: Flag.response, route: 1, data: bytes("") }));
    far.send(encodeFrame({ number: 2n ** 60n, flag: Flag.error, route: 1, data: bytes("") }));
    far.send(Uint8Array.from([0x08, 0x01, 0x10, 0x02, 0xf8, 0x01, 0x05]));
    await flush();
    expect(muxer.closed).toBe(false);
  });
});

import { afterEach, describe, expect, it, vi } from "vitest";
import { BimuxError, Flag, Muxer, decodeFrame, encodeFrame, type MuxerOptions } from "../src/index.js";
import { createDuplexPair, type MemoryDuplex } from "../src/testing.js";
import { bytes, rejection, text } from "../../../test-support/helpers.js";
import { onFakeTime, settle } from "../../../test-support/fake-time.js";

function pair(a: MuxerOptions = {}, b: MuxerOptions = {}) {
  const [da, db] = createDuplexPair();
  return { a: new Muxer(da, a), b: new Muxer(db, b), da, db };
}

/** A muxer and the raw far end of its wire, to see and forge exact bytes. */
function rawPeer(options: MuxerOptions = {}) {
  const [near, far] = createDuplexPair();
  const received: Uint8Array[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  far.open({ message: (d) => received.push(d as Uint8Array), closed: (code, reason) => closes.push({ code, reason }) });
  return { muxer: new Muxer(near, options), far, received, closes };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("Muxer calls", () => {
  afterEach(() => vi.useRealTimers());

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

  it("prefers a per-route handler, falls back to onRpc, and answers an unknown route with `unimplemented`", async () => {
    const { a, b } = pair({}, { onRpc: () => bytes("hook"), handlers: { 3: () => bytes("three") } });
    expect(text(await a.rpc(3, bytes("")))).toBe("three");
    expect(text(await a.rpc(4, bytes("")))).toBe("hook");
    const { a: c } = pair();
    const error = await rejection(c.rpc(4, bytes("")));
    expect(error.code).toBe("unimplemented");
    expect(error.remote).toBe(true);
    expect(error.message).toContain("route 4");
  });

  it("turns a throwing or rejecting handler into a typed remote error, keeping a BimuxError's code, and carries no stack", async () => {
    const { a } = pair({}, {
      handlers: {
        1: () => {
          throw new Error("boom");
        },
        2: async () => {
          throw new BimuxError("invalid_argument", "bad input");
        },
        3: () => "not bytes" as unknown as Uint8Array,
        4: () => Promise.reject("a string"),
      },
    });
    const e1 = await rejection(a.rpc(1, bytes("")));
    expect([e1.code, e1.remote, e1.rawMessage]).toEqual(["remote", true, "boom"]);
    expect(e1.message).not.toContain("at ");
    const e2 = await rejection(a.rpc(2, bytes("")));
    expect([e2.code, e2.rawMessage]).toEqual(["invalid_argument", "bad input"]);
    expect((await rejection(a.rpc(3, bytes("")))).code).toBe("internal");
    expect((await rejection(a.rpc(4, bytes("")))).rawMessage).toBe("a string");
    // The connection survives all of it.
    expect(a.closed).toBe(false);
  });

  it("replies with empty bytes when a handler returns nothing", async () => {
    const { a } = pair({}, { onRpc: () => undefined });
    expect((await a.rpc(1, bytes("x"))).length).toBe(0);
  });

  it("times out a call that gets no reply, and drops the late reply", async () => {
    const { muxer, far, received } = rawPeer();
    const error = await rejection(muxer.rpc(1, bytes("x"), { timeout: 20 }));
    expect(error.code).toBe("timeout");
    expect(muxer.pendingCalls).toBe(0);
    far.send(encodeFrame({ number: 1, flag: Flag.response, route: 1, data: bytes("late") }));
    await flush();
    expect(muxer.closed).toBe(false);
    expect(received).toHaveLength(1);
  });

  it("never times a call out early, and at most a tick (10 ms) late", async () => {
    const core = await onFakeTime(() => import("../src/index.js"));
    const [near, far] = createDuplexPair();
    far.open({ message: () => {}, closed: () => {} });
    const muxer = new core.Muxer(near, { keepalive: false });
    // When (on the fake clock) each call settled, and how.
    const settled = new Map<number, { at: number; code: string }>();
    const started = performance.now();
    for (const timeout of [5, 30, 55]) {
      muxer.rpc(1, bytes(""), { timeout }).then(
        () => settled.set(timeout, { at: performance.now() - started, code: "replied" }),
        (e: BimuxError) => settled.set(timeout, { at: performance.now() - started, code: e.code }),
      );
    }
    await vi.advanceTimersByTimeAsync(100);
    for (const timeout of [5, 30, 55]) {
      const call = settled.get(timeout);
      expect(call?.code).toBe("timeout");
      expect(call!.at).toBeGreaterThanOrEqual(timeout);
      expect(call!.at).toBeLessThanOrEqual(timeout + 10);
    }
    muxer.close();
  });

  it("uses the muxer's default timeout when a call names none", async () => {
    const { muxer } = rawPeer({ timeout: 15 });
    expect((await rejection(muxer.rpc(1, bytes("x")))).code).toBe("timeout");
  });

  it("rejects at once when the signal aborts, before or during the call", async () => {
    const { muxer } = rawPeer();
    const early = new AbortController();
    early.abort();
    expect((await rejection(muxer.rpc(1, bytes(""), { signal: early.signal }))).code).toBe("aborted");
    const late = new AbortController();
    const call = muxer.rpc(1, bytes(""), { signal: late.signal });
    late.abort(new Error("user gave up"));
    const error = await rejection(call);
    expect(error.code).toBe("aborted");
    expect((error.cause as Error).message).toBe("user gave up");
    expect(muxer.pendingCalls).toBe(0);
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

describe("Muxer close", () => {
  afterEach(() => vi.useRealTimers());

  it("rejects every pending call at once when the peer closes, not at their timeout", async () => {
    // Fake time that never moves: the calls can only settle through the close.
    const core = await onFakeTime(() => import("../src/index.js"));
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

  it("aborts the signal of handlers still running when the connection closes, and drops their replies", async () => {
    let seen: AbortSignal | undefined;
    const { a, b } = pair({}, {
      onRpc: (_r, _d, _m, ctx) =>
        new Promise<Uint8Array>((resolve) => {
          seen = ctx.signal;
          ctx.signal.addEventListener("abort", () => resolve(bytes("too late")));
        }),
    });
    const call = rejection(a.rpc(1, bytes("")));
    await flush();
    expect(b.servingCalls).toBe(1);
    a.close();
    expect((await call).code).toBe("closed");
    await b.wait();
    expect(seen?.aborted).toBe(true);
    expect(b.servingCalls).toBe(0);
  });
});

describe("Muxer on bad input", () => {
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

describe("Muxer one-way, ids and raw packets", () => {
  it("delivers one-way messages in order to per-route handlers and the hook", async () => {
    const seen: string[] = [];
    const { a } = pair({}, {
      onOneway: (route, data) => void seen.push(`hook ${route} ${text(data)}`),
      onewayHandlers: { 5: (_r, data) => void seen.push(`five ${text(data)}`) },
    });
    for (let i = 0; i < 100; i++) await a.send(i % 2 ? 5 : 6, bytes(String(i)));
    await flush();
    expect(seen).toHaveLength(100);
    expect(seen.slice(0, 3)).toEqual(["hook 6 0", "five 1", "hook 6 2"]);
  });

  it("reports a failing one-way handler locally without closing", async () => {
    const onError = vi.fn();
    const { a, b } = pair({}, { onError, onOneway: async () => Promise.reject(new Error("oops")) });
    await a.send(1, bytes(""));
    await flush();
    expect(onError).toHaveBeenCalledTimes(1);
    expect((onError.mock.calls[0]![0] as BimuxError).message).toContain("oops");
    expect(b.closed).toBe(false);
  });

  it("keeps an id and tells onIdChange", () => {
    const onIdChange = vi.fn();
    const { muxer } = rawPeer({ id: "first", onIdChange });
    expect(muxer.id).toBe("first");
    muxer.id = "agent-1";
    expect(muxer.id).toBe("agent-1");
    expect(onIdChange).toHaveBeenCalledWith(muxer, "first");
  });

  it("reads and writes raw packets, ahead of the muxing", async () => {
    const { a, b } = pair({}, { onRpc: () => bytes("ok") });
    const hello = b.readPacket();
    await a.writePacket(bytes("raw hello"));
    expect(text(await hello)).toBe("raw hello");
    // With no raw reader waiting, messages go to the muxer again.
    expect(text(await a.rpc(1, bytes("")))).toBe("ok");
    const ac = new AbortController();
    const read = b.readPacket({ signal: ac.signal });
    ac.abort();
    expect((await rejection(read)).code).toBe("aborted");
    expect(text(await a.rpc(1, bytes("")))).toBe("ok");
  });

  it("lets a handler call back into the caller on the same connection", async () => {
    const { a } = pair(
      { handlers: { 2: () => bytes("from a") } },
      { handlers: { 1: async (_r, _d, m) => bytes(`b saw ${text(await m.rpc(2, bytes("")))}`) } },
    );
    expect(text(await a.rpc(1, bytes("")))).toBe("b saw from a");
  });
});

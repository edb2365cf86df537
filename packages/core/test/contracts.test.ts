import { describe, expect, it } from "vitest";
import {
  BimuxError, CloseCode, Flag, Muxer, ReconnectingMuxer, decodeErrorReply, decodeFrame, encodeErrorReply, encodeFrame,
  type Duplex, type MuxerOptions,
} from "../src/index.js";
import { createDuplexPair } from "../src/testing.js";
import { bytes, rejection, sleep, text, until } from "../../../test-support/helpers.js";

function pair(a: MuxerOptions = {}, b: MuxerOptions = {}, protocol = "") {
  const [da, db] = createDuplexPair({ protocol });
  return { a: new Muxer(da, a), b: new Muxer(db, b), da, db };
}

describe("contracts: Muxer", () => {
  it("writePacket refuses a packet larger than maxMessageSize (Largest message sent or accepted)", async () => {
    const { a, b } = pair({ maxMessageSize: 10, keepalive: false }, { maxMessageSize: 10, keepalive: false });
    const err = await rejection(a.writePacket(new Uint8Array(11)));
    expect(err.code).toBe("too_large");
    await sleep(5);
    expect(a.closed).toBe(false);
    expect(b.closed).toBe(false);
  });

  it("writePacket at exactly maxMessageSize is fine", async () => {
    const { a, b } = pair({ maxMessageSize: 10, keepalive: false }, { maxMessageSize: 10, keepalive: false });
    const read = b.readPacket();
    await a.writePacket(new Uint8Array(10));
    expect((await read).length).toBe(10);
  });

  it("rpc with a frame exactly at maxMessageSize goes, one byte more fails too_large", async () => {
    // frame: 08 01 | 18 01 | 22 len data  => 6 + data.length for data < 128
    const { a } = pair({ maxMessageSize: 16, keepalive: false }, { maxMessageSize: 16, keepalive: false, onRpc: () => undefined });
    expect((await a.rpc(1, new Uint8Array(10))).length).toBe(0);
    expect((await rejection(a.rpc(1, new Uint8Array(11)))).code).toBe("too_large");
  });

  it("servingCalls counts the calls still owed an answer: a cancelled one no longer, though its handler runs on", async () => {
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    let finished = false;
    const { a, b } = pair({ keepalive: false }, { keepalive: false, onRpc: async () => { await done; finished = true; return bytes("x"); } }, "bimux.ext.v1");
    const ac = new AbortController();
    const call = rejection(a.rpc(1, bytes(""), { signal: ac.signal }));
    await sleep(1);
    expect(b.servingCalls).toBe(1);
    ac.abort();
    await call;
    await sleep(1);
    expect([b.servingCalls, finished]).toEqual([0, false]);
    finish();
    await sleep(1);
    expect([b.servingCalls, finished]).toEqual([0, true]);
  });

  it("handlers take precedence over onRpc; removing restores onRpc; remover of a replaced handler is a no-op", async () => {
    const { a, b } = pair({ keepalive: false }, { keepalive: false, onRpc: () => bytes("hook"), handlers: { 1: () => bytes("h1") } });
    expect(text(await a.rpc(1, bytes("")))).toBe("h1");
    const r2 = b.handle(1, () => bytes("h2"));
    expect(text(await a.rpc(1, bytes("")))).toBe("h2");
    r2();
    expect(text(await a.rpc(1, bytes("")))).toBe("hook");
    const r3 = b.handle(1, () => bytes("h3"));
    b.handle(1, () => bytes("h4"));
    r3();
    expect(text(await a.rpc(1, bytes("")))).toBe("h4");
  });

  it("maxConcurrent 0 refuses every request with overloaded", async () => {
    const { a } = pair({ keepalive: false }, { keepalive: false, maxConcurrent: 0, onRpc: () => bytes("x") });
    const e = await rejection(a.rpc(1, bytes("")));
    expect([e.code, e.remote]).toEqual(["overloaded", true]);
  });

  it("timeout Infinity means no limit and sends no field 5", async () => {
    let seen: number | undefined = -1;
    const { a } = pair({ keepalive: false, timeout: Infinity }, { keepalive: false, onRpc: async (_r, _d, _m, ctx) => { seen = ctx.timeout; await sleep(20); } }, "bimux.ext.v1");
    await a.rpc(1, bytes(""));
    expect(seen).toBeUndefined();
  });

  it("highWaterMark 0: send still resolves on an idle transport", async () => {
    const { a } = pair({ keepalive: false, highWaterMark: 0 }, { keepalive: false });
    await a.send(1, bytes("x"));
  });

  it("id / onIdChange / closeDetails / wait", async () => {
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

  it("readPacket takes raw messages in order, abort gives up its place", async () => {
    const { a, b } = pair({ keepalive: false }, { keepalive: false });
    const ac = new AbortController();
    const r1 = b.readPacket({ signal: ac.signal });
    const r2 = b.readPacket();
    ac.abort();
    expect((await rejection(r1)).code).toBe("aborted");
    await a.writePacket(bytes("one"));
    expect(text(await r2)).toBe("one");
  });
});

describe("contracts: codec", () => {
  it("round-trips edge values", () => {
    for (const f of [
      { number: 0, flag: 0, route: 0, data: new Uint8Array() },
      { number: Number.MAX_SAFE_INTEGER, flag: 6, route: -2147483648, data: bytes("x") },
      { number: 2n ** 64n - 1n, flag: -1, route: 2147483647, data: bytes("y"), timeout: 4294967295 },
    ]) {
      expect(decodeFrame(encodeFrame(f))).toEqual(f);
    }
    expect(encodeFrame({ number: 0, flag: 0, route: 0, data: new Uint8Array() }).length).toBe(0);
    for (const bad of [{ number: -1 }, { number: 2 ** 53 }, { number: 2n ** 64n }, { route: 2 ** 31 }, { flag: 1.5 }, { timeout: 2 ** 32 }, { timeout: -1 }]) {
      expect(() => encodeFrame({ number: 1, flag: 0, route: 0, data: new Uint8Array(), ...bad } as never)).toThrow(BimuxError);
    }
    expect(decodeErrorReply(encodeErrorReply({ code: "", message: "" }))).toEqual({ code: "", message: "" });
    expect(decodeErrorReply(encodeErrorReply({ code: "x", message: "é" }))).toEqual({ code: "x", message: "é" });
    expect(() => decodeErrorReply(new Uint8Array([0x0a, 5, 1]))).toThrow(BimuxError);
    expect(Flag).toEqual({ request: 0, response: 1, oneway: 2, error: 3, cancel: 4, ping: 5, pong: 6 });
    expect(CloseCode.messageTooBig).toBe(1009);
  });
});

describe("contracts: createDuplexPair", () => {
  it("blackhole: nothing sent either way arrives, sendText included", async () => {
    const [a, b] = createDuplexPair();
    const got: unknown[] = [];
    a.open({ message: () => {}, closed: () => {} });
    b.open({ message: (d) => got.push(d), closed: () => {} });
    a.blackhole();
    a.send(bytes("x"));
    a.sendText("hello");
    await sleep(5);
    expect(got).toEqual([]);
  });

  it("drop: both ends see 1006", async () => {
    const [a, b] = createDuplexPair({ protocol: "p" });
    expect(a.protocol).toBe("p");
    const closes: number[] = [];
    a.open({ message: () => {}, closed: (c) => closes.push(c) });
    b.open({ message: () => {}, closed: (c) => closes.push(c) });
    a.drop();
    await sleep(1);
    expect(closes).toEqual([1006, 1006]);
  });
});

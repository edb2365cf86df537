import { describe, expect, it, vi } from "vitest";
import { BimuxError, Flag, Muxer, decodeFrame, encodeFrame } from "../src/index.js";
import { createDuplexPair } from "../src/testing.js";
import { bytes, sleep, text } from "../../../test-support/helpers.js";

describe("regressions found in review: held messages, hostile thrown values, the shared interval", () => {
  it("a request that arrived before a protocol violation is still answered after a raw read (hold must not drop it)", async () => {
    const [near, far] = createDuplexPair();
    const received: Uint8Array[] = [];
    const closes: number[] = [];
    far.open({ message: (d) => received.push(d as Uint8Array), closed: (code) => closes.push(code) });
    const muxer = new Muxer(near, { onRpc: () => bytes("pong") });
    const read = muxer.readPacket();
    far.send(bytes("raw hello"));
    far.send(encodeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes("ping") }));
    far.sendText("oops"); // a violation that arrives after the request
    expect(text(await read)).toBe("raw hello");
    await sleep(20);
    expect(closes).toEqual([1003]);
    // The request came first: it is answered before the close, as it was without a raw read.
    expect(received.map((r) => decodeFrame(r).flag)).toContain(Flag.response);
  });

  it("an unprintable thrown value (Proxy with a throwing get trap) still gets an error reply", async () => {
    const [da, db] = createDuplexPair();
    const onError = vi.fn();
    const b = new Muxer(db, {
      onError,
      onRpc: () => {
        throw new Proxy({}, { get() { throw new Error("no property access"); } });
      },
    });
    const a = new Muxer(da, {});
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on("uncaughtException", onUncaught);
    try {
      const err = await a.rpc(1, bytes("x"), { timeout: 300 }).then(
        () => undefined,
        (e: BimuxError) => e,
      );
      expect(uncaught).toEqual([]);
      expect(err?.code).not.toBe("timeout");
      expect(err?.remote).toBe(true);
    } finally {
      process.off("uncaughtException", onUncaught);
      a.close();
      b.close();
    }
  });

  it("BimuxError.from never throws, whatever was thrown", () => {
    const hostile = new Proxy({}, { get() { throw new Error("trap"); } });
    expect(() => BimuxError.from(hostile)).not.toThrow();
  });
});

describe("regressions (timers)", () => {
  it("sequential calls do not create and clear an interval timer each", async () => {
    const [da, db] = createDuplexPair();
    const a = new Muxer(da, {});
    const b = new Muxer(db, { onRpc: (_r, d) => d });
    const spy = vi.spyOn(globalThis, "setInterval");
    try {
      for (let i = 0; i < 1000; i++) await a.rpc(1, bytes("x"));
      // One wheel interval for a burst of calls; 88baf8e makes it 1000 (≈15% on a memory pair).
      expect(spy.mock.calls.length).toBeLessThan(10);
    } finally {
      spy.mockRestore();
      a.close();
      b.close();
    }
  });
});

// The calls a muxer makes: their deadlines (on the monotonic clock), their abort signals.
import { afterEach, describe, expect, it, vi } from "vitest";
import { BimuxError, encodeFrame, Flag } from "@bimux/core";
import { createDuplexPair } from "@bimux/core/testing";
import { bytes, rejection, sleep } from "../../../../test-support/helpers.js";
import { flush, outcome, pair, rawPeer } from "../fixtures/muxers.js";
import { onFakeTime } from "../../../../test-support/fake-time.js";

// Tests on fake time put the real clock back, whatever they assert.
afterEach(() => vi.useRealTimers());

describe("outbound calls: deadlines", () => {
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
    const core = await onFakeTime(() => import("@bimux/core"));
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

  it("takes a timeout of Infinity as no limit, and sends the handler no timeout", async () => {
    let seen: number | undefined = -1;
    const { a } = pair({ keepalive: false, timeout: Infinity }, { keepalive: false, onRpc: async (_r, _d, _m, ctx) => { seen = ctx.timeout; await sleep(20); } }, "bimux.ext.v1");
    await a.rpc(1, bytes(""));
    expect(seen).toBeUndefined();
  });

  it("a call still times out after the wall clock steps back", async () => {
    // Fake time: the wall clock (Date) steps back a minute, the monotonic one (performance.now) does not.
    const core = await onFakeTime(() => import("@bimux/core"));
    const [a, b] = createDuplexPair();
    new core.Muxer(b, { keepalive: false, onRpc: () => new Promise<Uint8Array>(() => {}) });
    const caller = new core.Muxer(a, { keepalive: false });
    caller.rpc(1, bytes(""), { timeout: 60_000 }).catch(() => {}); // keeps the shared ticker running across the step
    await vi.advanceTimersByTimeAsync(20);
    vi.setSystemTime(Date.now() - 60_000);
    let code: string | undefined;
    caller.rpc(1, bytes(""), { timeout: 50 }).catch((e: BimuxError) => (code = e.code));
    await vi.advanceTimersByTimeAsync(60);
    expect(code).toBe("timeout"); // got undefined: never times out
    caller.close();
  });

  it("a call does not time out early when the wall clock steps forward", async () => {
    const core = await onFakeTime(() => import("@bimux/core"));
    const [a, b] = createDuplexPair();
    new core.Muxer(b, { keepalive: false, onRpc: () => new Promise<Uint8Array>((r) => setTimeout(() => r(bytes("ok")), 100)) });
    const caller = new core.Muxer(a, { keepalive: false });
    let outcome: string | undefined;
    caller.rpc(1, bytes(""), { timeout: 5_000 }).then(() => (outcome = "ok"), (e: BimuxError) => (outcome = e.code));
    await vi.advanceTimersByTimeAsync(5);
    vi.setSystemTime(Date.now() + 60_000);
    await vi.advanceTimersByTimeAsync(95);
    expect(outcome).toBe("ok"); // got "timeout" after ~10 ms
    caller.close();
  });
});

describe("outbound calls: abort signals", () => {
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
});

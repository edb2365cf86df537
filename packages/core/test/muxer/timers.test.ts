import { afterEach, describe, expect, it, vi } from "vitest";
import { Muxer } from "@bimux/core";
import { createDuplexPair } from "@bimux/core/testing";
import { bytes } from "../../../../test-support/helpers.js";
import { onFakeTime } from "../../../../test-support/fake-time.js";

// The timers are internal: no entry point exports them, so these tests load the modules themselves.
type Timers = typeof import("../../src/muxer/timers.js");

// Each test loads its own copy of the timers on fake time: they keep their interval in module state.
describe.each([["shared wheel", (): Promise<Timers> => import("../../src/muxer/timers.js")]])("timers: %s", (_name, load) => {
  afterEach(() => vi.useRealTimers());

  const deadline = (timeout: number, fired: number[]) => ({
    timeout,
    slot: undefined as unknown,
    expire: () => void fired.push(performance.now()),
  });

  it("expires a deadline once, never before its timeout and at most a tick (10 ms) after", async () => {
    const timers = await onFakeTime(load);
    const fired: number[] = [];
    const started = performance.now();
    timers.startDeadline(deadline(30, fired));
    await vi.advanceTimersByTimeAsync(29);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(11);
    expect(fired).toHaveLength(1);
    expect(fired[0]! - started).toBeGreaterThanOrEqual(30);
    await vi.advanceTimersByTimeAsync(200);
    expect(fired).toHaveLength(1);
  });

  it("never expires a stopped deadline, and keeps the others", async () => {
    const timers = await onFakeTime(load);
    const fired: number[] = [];
    const stopped = deadline(20, fired);
    timers.startDeadline(stopped);
    timers.startDeadline(deadline(25, fired));
    timers.stopDeadline(stopped);
    await vi.advanceTimersByTimeAsync(80);
    expect(fired).toHaveLength(1);
  });

  it("expires the deadlines of one tick in the order they were started, whichever were stopped between", async () => {
    const timers = await onFakeTime(load);
    const order: number[] = [];
    const items = [0, 1, 2, 3, 4].map((i) => ({ timeout: 20, slot: undefined as unknown, expire: () => void order.push(i) }));
    for (const item of items) timers.startDeadline(item);
    timers.stopDeadline(items[0]!);
    timers.stopDeadline(items[2]!);
    timers.stopDeadline(items[4]!);
    await vi.advanceTimersByTimeAsync(40);
    expect(order).toEqual([1, 3]);
  });

  it("a deadline that left holds no link to the others (a dropped one must not keep them alive)", async () => {
    const timers = await onFakeTime(load);
    const items = [0, 1, 2].map(() => ({ timeout: 20, slot: undefined as unknown, expire: () => {} }) as import("../../src/muxer/timers.js").Deadline);
    for (const item of items) timers.startDeadline(item);
    timers.stopDeadline(items[1]!);
    expect([items[1]!.prev, items[1]!.next, items[1]!.slot]).toEqual([undefined, undefined, undefined]);
    await vi.advanceTimersByTimeAsync(40);
    for (const item of items) expect([item.prev, item.next, item.slot]).toEqual([undefined, undefined, undefined]);
  });
});

describe("timers: server wheel housekeeping", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it("stops its shared interval within a tick once no deadline waits, not when the stopped ones would have fired", async () => {
    const server = await onFakeTime(() => import("../../src/muxer/timers.js"));
    // Spied on once the fake timers are in: these are what the fresh copy calls.
    const started = vi.spyOn(globalThis, "setInterval");
    const cleared = vi.spyOn(globalThis, "clearInterval");
    const early = { timeout: 60_000, slot: undefined as unknown, expire: () => {} };
    const late = { timeout: 3_600_000, slot: undefined as unknown, expire: () => {} };
    server.startDeadline(early);
    const ticker = started.mock.results.at(-1)!.value;
    server.startDeadline(late);
    server.stopDeadline(early);
    await vi.advanceTimersByTimeAsync(30);
    expect(cleared).not.toHaveBeenCalledWith(ticker); // one still waits
    server.stopDeadline(late);
    await vi.advanceTimersByTimeAsync(10);
    expect(cleared).toHaveBeenCalledWith(ticker);
    // Calls one after another share the interval rather than start one each.
    const before = started.mock.calls.length;
    for (let i = 0; i < 50; i++) {
      const call = { timeout: 1000, slot: undefined as unknown, expire: () => {} };
      server.startDeadline(call);
      server.stopDeadline(call);
    }
    expect(started.mock.calls.length - before).toBeLessThanOrEqual(1);
  });
  it("keeps no emptied slot but the last: calls one after another over many ticks let the interval stop a tick after the last", async () => {
    const server = await onFakeTime(() => import("../../src/muxer/timers.js"));
    const started = vi.spyOn(globalThis, "setInterval");
    const cleared = vi.spyOn(globalThis, "clearInterval");
    const fired: number[] = [];
    // One call at a time, each in its own tick, as a caller with one call in flight makes them.
    for (let i = 0; i < 100; i++) {
      const call = { timeout: 10_000, slot: undefined as unknown, expire: () => void fired.push(i) };
      server.startDeadline(call);
      server.stopDeadline(call);
      await vi.advanceTimersByTimeAsync(i % 2 ? 3 : 7);
    }
    await vi.advanceTimersByTimeAsync(20);
    const tickers = started.mock.results.map((r) => r.value);
    for (const ticker of tickers) expect(cleared).toHaveBeenCalledWith(ticker);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(fired).toEqual([]);
    // A call due in the slot kept empty still expires.
    const kept = { timeout: 30, slot: undefined as unknown, expire: () => void fired.push(-1) };
    const other = { timeout: 30, slot: undefined as unknown, expire: () => {} };
    server.startDeadline(other);
    server.stopDeadline(other);
    server.startDeadline(kept);
    await vi.advanceTimersByTimeAsync(50);
    expect(fired).toEqual([-1]);
  });
});

describe("timers: the shared interval under load", () => {
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

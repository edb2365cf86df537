import { describe, expect, it, vi } from "vitest";
import * as server from "../src/muxer/timers.js";
import { sleep } from "../../../test-support/helpers.js";

describe.each([["shared wheel", server]])("timers: %s", (_name, timers) => {
  const deadline = (timeout: number, fired: number[], started: number) => ({
    timeout,
    slot: undefined as unknown,
    expire: () => void fired.push(Date.now() - started),
  });

  it("expires a deadline once, after its timeout and not long after", async () => {
    const fired: number[] = [];
    const started = Date.now();
    timers.startDeadline(deadline(30, fired, started));
    await sleep(120);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(29); // timers may round the last millisecond
    expect(fired[0]).toBeLessThan(100);
  });

  it("never expires a stopped deadline, and keeps the others", async () => {
    const fired: number[] = [];
    const started = Date.now();
    const stopped = deadline(20, fired, started);
    timers.startDeadline(stopped);
    timers.startDeadline(deadline(25, fired, started));
    timers.stopDeadline(stopped);
    await sleep(80);
    expect(fired).toHaveLength(1);
  });

  it("ticks a member every interval until it leaves", async () => {
    let ticks = 0;
    const member = { timer: undefined as unknown, tick: () => void ticks++ };
    timers.join(20, member);
    await sleep(110);
    timers.leave(member);
    const seen = ticks;
    expect(seen).toBeGreaterThanOrEqual(3);
    expect(seen).toBeLessThanOrEqual(6);
    await sleep(60);
    expect(ticks).toBe(seen);
  });
});

describe("timers: server wheel housekeeping", () => {
  it("stops its shared interval within a tick once no deadline waits, not when the stopped ones would have fired", async () => {
    const started = vi.spyOn(globalThis, "setInterval");
    const cleared = vi.spyOn(globalThis, "clearInterval");
    try {
      const early = { timeout: 60_000, slot: undefined as unknown, expire: () => {} };
      const late = { timeout: 3_600_000, slot: undefined as unknown, expire: () => {} };
      server.startDeadline(early);
      const ticker = started.mock.results.at(-1)!.value;
      server.startDeadline(late);
      server.stopDeadline(early);
      await sleep(30);
      expect(cleared).not.toHaveBeenCalledWith(ticker); // one still waits
      server.stopDeadline(late);
      await sleep(30);
      expect(cleared).toHaveBeenCalledWith(ticker);
      // Calls one after another share the interval rather than start one each.
      const before = started.mock.calls.length;
      for (let i = 0; i < 50; i++) {
        const call = { timeout: 1000, slot: undefined as unknown, expire: () => {} };
        server.startDeadline(call);
        server.stopDeadline(call);
      }
      expect(started.mock.calls.length - before).toBeLessThanOrEqual(1);
    } finally {
      vi.restoreAllMocks();
    }
  });
});

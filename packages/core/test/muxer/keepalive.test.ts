// Keepalive: a quiet peer is probed (ping message or transport ping), and a silent one dropped.
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Duplex, type DuplexSink, EXTENSIONS_PROTOCOL, Muxer } from "@bimux/core";
import { createDuplexPair } from "@bimux/core/testing";
import { bytes, rejection, sleep } from "../../../../test-support/helpers.js";
import { extPair } from "../fixtures/muxers.js";
import { onFakeTime } from "../../../../test-support/fake-time.js";

// Tests on fake time put the real clock back, whatever they assert.
afterEach(() => vi.useRealTimers());

describe("keepalive", () => {
  it("finds a vanished peer within three intervals and rejects the calls waiting on it", async () => {
    const core = await onFakeTime(() => import("@bimux/core"));
    const [da, db] = createDuplexPair({ protocol: EXTENSIONS_PROTOCOL });
    const a = new core.Muxer(da, { keepalive: { interval: 20 } });
    const b = new core.Muxer(db, { keepalive: { interval: 20 }, onRpc: () => new Promise(() => {}) });
    const call = rejection(a.rpc(1, bytes(""), { timeout: 10_000 }));
    await vi.advanceTimersByTimeAsync(5);
    da.blackhole();
    // One tick finds it heard from before, the next probes, the third gives up.
    await vi.advanceTimersByTimeAsync(3 * 20);
    expect(a.closed).toBe(true);
    const info = await a.wait();
    expect(info.code).toBe(1006);
    expect(info.error?.code).toBe("unavailable");
    expect((await call).code).toBe("closed");
    expect((await b.wait()).initiator).toBe("local");
  });

  it("keeps an idle but healthy connection open, answering probes", async () => {
    const { a, b } = extPair({ keepalive: { interval: 15 } }, { keepalive: { interval: 15 } });
    await sleep(150);
    expect(a.closed || b.closed).toBe(false);
    a.close();
  });

  it("uses transport pings with a peer that has no ping message, and does nothing where it cannot probe", async () => {
    const sink: { current?: DuplexSink } = {};
    let pings = 0;
    const duplex: Duplex = {
      open: (s) => void (sink.current = s),
      send: () => {},
      close: () => {},
      bufferedAmount: 0,
      ping: () => {
        pings++;
        sink.current?.alive?.();
      },
    };
    const core = await onFakeTime(() => import("@bimux/core"));
    const withPing = new core.Muxer(duplex, { keepalive: { interval: 10 } });
    const [quiet] = createDuplexPair();
    const withoutPing = new core.Muxer(quiet, { keepalive: { interval: 10 } });
    await vi.advanceTimersByTimeAsync(100);
    expect(pings).toBeGreaterThan(0);
    expect(withPing.closed).toBe(false);
    expect(withoutPing.closed).toBe(false);
    withPing.close();
    withoutPing.close();
  });

  it("probes with the transport's ping where there is one, even when the peer negotiated ping messages", async () => {
    const sent: Uint8Array[] = [];
    let pings = 0;
    const duplex: Duplex = {
      open: () => {},
      send: (p) => void sent.push(p),
      close: () => {},
      ping: () => void pings++,
      bufferedAmount: 0,
      protocol: "bimux.ext.v1",
    };
    const core = await onFakeTime(() => import("@bimux/core"));
    const muxer = new core.Muxer(duplex, { keepalive: { interval: 20 } });
    await vi.advanceTimersByTimeAsync(70);
    expect(pings).toBeGreaterThan(0);
    expect(sent).toEqual([]); // no ping message: a busy browser page answers the transport's ping anyway
    muxer.close();
  });

  it("a keepalive interval > 2^31-1 ms does not probe every ms and drop a quiet peer", async () => {
    const [a, b] = createDuplexPair({ protocol: "bimux.ext.v1" });
    const muxer = new Muxer(a, { keepalive: { interval: 2 ** 32 } });
    new Muxer(b, { keepalive: false });
    a.blackhole(); // peer quiet for 100 ms
    await sleep(100);
    expect(muxer.closed).toBe(false); // got true: closed 1006 "peer stopped answering keepalive"
    muxer.close();
  });
});

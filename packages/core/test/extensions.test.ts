import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BimuxError,
  EXTENSIONS_PROTOCOL,
  Flag,
  Muxer,
  decodeFrame,
  type CallContext,
  type Duplex,
  type DuplexSink,
  type MuxerOptions,
} from "../src/index.js";
import { createDuplexPair } from "../src/testing.js";
import { writeFrame, type Frame } from "../src/codec.js";
import { bytes, rejection, sleep, text } from "../../../test-support/helpers.js";
import { onFakeTime } from "../../../test-support/fake-time.js";

function pair(a: MuxerOptions = {}, b: MuxerOptions = {}, protocol = EXTENSIONS_PROTOCOL) {
  const [da, db] = createDuplexPair({ protocol });
  return { a: new Muxer(da, a), b: new Muxer(db, b), da, db };
}

function rawPeer(options: MuxerOptions = {}, protocol = EXTENSIONS_PROTOCOL) {
  const [near, far] = createDuplexPair({ protocol });
  const received: Uint8Array[] = [];
  far.open({ message: (d) => void received.push(d as Uint8Array), closed: () => {} });
  return { muxer: new Muxer(near, options), far, received };
}

/** A handler that waits for its signal and reports why it aborted. */
function waitsForAbort(seen: BimuxError[]) {
  return (_r: number, _d: Uint8Array, _m: Muxer, ctx: CallContext) =>
    new Promise<Uint8Array>((resolve) => {
      ctx.signal.addEventListener("abort", () => {
        seen.push(ctx.signal.reason as BimuxError);
        resolve(bytes("after abort"));
      });
    });
}

describe("negotiation", () => {
  it("enables the extensions only when the transport agreed on the bimux subprotocol", () => {
    expect(pair().a.extensions).toBe(true);
    expect(pair({}, {}, "").a.extensions).toBe(false);
  });

  it("sends exactly the Go bytes to a peer without extensions: no timeout field, no cancel", async () => {
    const { muxer, received } = rawPeer({}, "");
    const ac = new AbortController();
    const call = rejection(muxer.rpc(1, bytes("hello"), { timeout: 5000, signal: ac.signal }));
    ac.abort();
    await call;
    await sleep(1);
    expect(received.map((r) => Buffer.from(r).toString("hex"))).toEqual(["08011801220568656c6c6f"]);
  });
});

describe("cancellation and deadlines", () => {
  afterEach(() => vi.useRealTimers());

  it("aborting a call cancels the remote handler, which sends no answer", async () => {
    const seen: BimuxError[] = [];
    const { a, b } = pair({}, { onRpc: waitsForAbort(seen) });
    const ac = new AbortController();
    const call = rejection(a.rpc(1, bytes(""), { signal: ac.signal }));
    await sleep(1);
    expect(b.servingCalls).toBe(1);
    ac.abort();
    expect((await call).code).toBe("aborted");
    await sleep(1);
    expect(seen.map((e) => e.code)).toEqual(["aborted"]);
    expect(b.servingCalls).toBe(0);
  });

  it("the caller's timeout travels with the request and aborts the handler's signal at the deadline, not before", async () => {
    const core = await onFakeTime(() => import("../src/index.js"));
    const seen: BimuxError[] = [];
    let timeoutSeen: number | undefined;
    const [da, db] = createDuplexPair({ protocol: EXTENSIONS_PROTOCOL });
    const a = new core.Muxer(da, { keepalive: false });
    new core.Muxer(db, {
      keepalive: false,
      onRpc: (r, d, m, ctx) => {
        timeoutSeen = ctx.timeout;
        return waitsForAbort(seen)(r, d, m, ctx);
      },
    });
    const call = rejection(a.rpc(1, bytes(""), { timeout: 60 }));
    await vi.advanceTimersByTimeAsync(59);
    expect(timeoutSeen).toBe(60);
    expect(seen).toEqual([]);
    // The caller's deadline comes at most a tick (10 ms) late; the handler's exactly on time.
    await vi.advanceTimersByTimeAsync(11);
    expect((await call).code).toBe("timeout");
    // Either the deadline or the caller's cancel got there first; both mean "stop".
    expect(seen).toHaveLength(1);
    expect(["timeout", "aborted"]).toContain(seen[0]?.code);
    a.close();
  });

  it("once the handler's signal says the deadline passed, no answer is sent, even if the clock lags the timer", async () => {
    // Timers may fire a millisecond before the clock reaches the deadline: the signal then
    // says "timeout", and an answer sent after it would reach a caller that gave up.
    const { muxer, far, received } = rawPeer({ onRpc: waitsForAbort([]) });
    const realNow = performance.now.bind(performance);
    let lag = 0;
    const clock = vi.spyOn(performance, "now").mockImplementation(() => realNow() - lag);
    try {
      far.send(writeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes(""), timeout: 20 }));
      await sleep(5); // the handler has asked for its signal: the deadline's timer is set
      lag = 15; // from now on the clock is behind that timer
      await sleep(80);
    } finally {
      clock.mockRestore();
    }
    expect(received.map((r) => decodeFrame(r).flag)).not.toContain(Flag.response);
    expect(muxer.servingCalls).toBe(0);
  });

  it("a wall-clock step forward on the callee does not drop an answer the caller still waits for", async () => {
    // The caller keeps its deadline on the monotonic clock; so must the callee, or an NTP
    // step makes it think the caller gave up while the caller still waits.
    let release!: () => void;
    const { a } = pair({ keepalive: false }, { keepalive: false, handlers: { 1: () => new Promise<Uint8Array>((r) => (release = () => r(bytes("42")))) } });
    const call = a.rpc(1, bytes(""), { timeout: 1000 });
    await sleep(10);
    const wall = Date.now.bind(Date);
    const clock = vi.spyOn(Date, "now").mockImplementation(() => wall() + 5000);
    try {
      release();
      expect(text(await call)).toBe("42");
    } finally {
      clock.mockRestore();
    }
  });

  it("a handler that looks at its signal after the deadline finds it aborted", async () => {
    let aborted: boolean | undefined;
    const { muxer, far } = rawPeer({
      onRpc: async (_r, _d, _m, ctx) => {
        await sleep(30);
        aborted = ctx.signal.aborted;
        return bytes("late");
      },
    });
    const { encodeFrame } = await import("../src/codec.js");
    far.send(encodeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes(""), timeout: 10 }));
    await sleep(60);
    expect(aborted).toBe(true);
    expect(muxer.servingCalls).toBe(0);
  });

  it("a handler that looks at its signal only after the caller cancelled, or the connection closed, finds it aborted", async () => {
    const reasons: unknown[] = [];
    const { muxer, far, received } = rawPeer({
      onRpc: async (_r, _d, _m, ctx) => {
        await sleep(20);
        reasons.push(ctx.signal.aborted && (ctx.signal.reason as BimuxError).code);
        return bytes("late");
      },
    });
    const { encodeFrame } = await import("../src/codec.js");
    far.send(encodeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes("") }));
    far.send(encodeFrame({ number: 2, flag: Flag.request, route: 1, data: bytes("") }));
    far.send(encodeFrame({ number: 1, flag: Flag.cancel, route: 0, data: bytes("") }));
    await sleep(1);
    muxer.close();
    await sleep(40);
    expect(reasons.sort()).toEqual(["aborted", "closed"]);
    expect(received).toEqual([]); // neither was answered
  });

  it("a handler that closes the connection before it goes asynchronous finds its signal aborted afterwards", async () => {
    let reason: unknown;
    const { muxer, far } = rawPeer({
      onRpc: async (_r, _d, m, ctx) => {
        m.close();
        await sleep(1);
        reason = ctx.signal.aborted && (ctx.signal.reason as BimuxError).code;
        return bytes("late");
      },
    });
    const { encodeFrame } = await import("../src/codec.js");
    far.send(encodeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes("") }));
    await sleep(10);
    expect(reason).toBe("closed");
    expect(muxer.servingCalls).toBe(0);
  });
});

describe("keepalive", () => {
  afterEach(() => vi.useRealTimers());

  it("finds a vanished peer within three intervals and rejects the calls waiting on it", async () => {
    const core = await onFakeTime(() => import("../src/index.js"));
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
    const { a, b } = pair({ keepalive: { interval: 15 } }, { keepalive: { interval: 15 } });
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
    const withPing = new Muxer(duplex, { keepalive: { interval: 10 } });
    const [quiet] = createDuplexPair();
    const withoutPing = new Muxer(quiet, { keepalive: { interval: 10 } });
    await sleep(100);
    expect(pings).toBeGreaterThan(0);
    expect(withPing.closed).toBe(false);
    expect(withoutPing.closed).toBe(false);
    withPing.close();
    withoutPing.close();
  });
});

describe("limits", () => {
  it("closes with 1009 on an inbound message over the limit, and refuses to send one", async () => {
    const { a, b } = pair({ maxMessageSize: 1000 }, { maxMessageSize: 100 });
    expect((await rejection(b.rpc(1, new Uint8Array(200)))).code).toBe("too_large");
    expect(b.closed).toBe(false);
    void a.send(1, new Uint8Array(500));
    const info = await b.wait();
    expect([info.code, info.error?.code]).toEqual([1009, "too_large"]);
  });

  it("answers a call whose reply would be too large with a too_large error, not silence", async () => {
    const { a, b } = pair({}, { maxMessageSize: 100, onRpc: () => new Uint8Array(500), onError: () => {} });
    const error = await rejection(a.rpc(1, bytes("")));
    expect([error.code, error.remote]).toEqual(["too_large", true]);
    expect(b.closed).toBe(false);
  });

  it("answers requests past maxConcurrent with `overloaded`, and serves again when room frees up", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { a } = pair({}, { maxConcurrent: 3, onRpc: async () => (await gate, bytes("ok")) });
    const calls = Array.from({ length: 5 }, () => a.rpc(1, bytes("")).then(() => "ok", (e: BimuxError) => e.code));
    await sleep(5);
    release();
    expect((await Promise.all(calls)).sort()).toEqual(["ok", "ok", "ok", "overloaded", "overloaded"]);
    expect(await a.rpc(1, bytes("")).then(() => "ok")).toBe("ok");
  });

  it("never sends stack traces unless asked to", async () => {
    const boom = () => {
      throw new Error("boom");
    };
    const quiet = await rejection(pair({}, { onRpc: boom }).a.rpc(1, bytes("")));
    expect(quiet.rawMessage).toBe("boom");
    const loud = await rejection(pair({}, { onRpc: boom, exposeStack: true }).a.rpc(1, bytes("")));
    expect(loud.rawMessage).toContain("boom\nError: boom\n    at ");
  });
});

describe("backpressure", () => {
  /** A transport whose buffer the test fills and drains by hand. */
  function slowDuplex() {
    const sent: Uint8Array[] = [];
    const duplex = { buffered: 0 } as Duplex & { buffered: number };
    Object.assign(duplex, {
      open: () => {},
      send: (p: Uint8Array) => void sent.push(p),
      close: () => {},
    });
    Object.defineProperty(duplex, "bufferedAmount", { get: () => duplex.buffered });
    return { duplex, sent };
  }

  it("makes senders wait while the transport is full, keeps their order, and fails past the limit", async () => {
    const { duplex, sent } = slowDuplex();
    const muxer = new Muxer(duplex, { highWaterMark: 100, maxQueuedBytes: 60, keepalive: false });
    await muxer.send(1, new Uint8Array(10)); // below the mark: resolves at once
    duplex.buffered = 150;
    let firstDone = false;
    const first = muxer.send(2, new Uint8Array(10)).then(() => (firstDone = true));
    const second = muxer.send(3, new Uint8Array(10));
    expect(muxer.bufferedAmount).toBe(150);
    duplex.buffered = 161; // past 100 + 60
    expect((await rejection(muxer.send(4, new Uint8Array(10)))).code).toBe("overloaded");
    await sleep(10);
    expect(firstDone).toBe(false);
    duplex.buffered = 0;
    await Promise.all([first, second]);
    // Everything but the refused write reached the transport, in order.
    expect(sent.map((p) => decodeFrame(p).route)).toEqual([1, 2, 3]);
  });

  it("rejects senders still waiting for the drain when the connection closes", async () => {
    const { duplex } = slowDuplex();
    const muxer = new Muxer(duplex, { highWaterMark: 0, keepalive: false });
    duplex.buffered = 1;
    const waiting = rejection(muxer.send(1, bytes("x")));
    const call = rejection(muxer.rpc(1, bytes("y")));
    muxer.close();
    expect((await waiting).code).toBe("closed");
    expect((await call).code).toBe("closed");
  });

  it("closes with 1008 a peer that keeps calling but never reads the answers", async () => {
    const { duplex } = slowDuplex();
    const sink: { current?: DuplexSink } = {};
    duplex.open = (s) => void (sink.current = s);
    const muxer = new Muxer(duplex, { highWaterMark: 0, maxQueuedBytes: 100, onRpc: () => new Uint8Array(40), keepalive: false });
    duplex.buffered = 101; // the answers it did not read
    const { encodeFrame } = await import("../src/codec.js");
    for (let i = 1; i <= 5; i++) sink.current!.message(encodeFrame({ number: i, flag: Flag.request, route: 1, data: bytes("") }));
    const info = await muxer.wait();
    expect([info.code, info.error?.code]).toEqual([1008, "overloaded"]);
  });
});

describe("error reporting", () => {
  it("reports an onClose hook that throws instead of crashing", async () => {
    const onError = vi.fn();
    const { a } = pair({ onError, onClose: () => { throw new Error("bad hook"); } });
    a.close();
    expect(onError).toHaveBeenCalledTimes(1);
  });
});

describe("control frames under backpressure", () => {
  it("still sends a cancel when the send buffer is full", async () => {
    const sent: Uint8Array[] = [];
    let buffered = 0;
    const duplex: Duplex = {
      open: () => {},
      send: (p) => void sent.push(p),
      close: () => {},
      get bufferedAmount() {
        return buffered;
      },
      protocol: EXTENSIONS_PROTOCOL,
    };
    const muxer = new Muxer(duplex, { highWaterMark: 0, maxQueuedBytes: 30, keepalive: false, onError: () => {} });
    const call = rejection(muxer.rpc(1, new Uint8Array(10), { timeout: 20 }));
    buffered = 31;
    expect((await rejection(muxer.send(1, new Uint8Array(20)))).code).toBe("overloaded");
    expect((await call).code).toBe("timeout");
    expect(muxer.closed).toBe(false);
    expect(sent.map((p) => decodeFrame(p).flag)).toEqual([Flag.request, Flag.cancel]);
  });
});

describe("limits, clocks and reused numbers", () => {
  afterEach(() => vi.useRealTimers());

  it("a keepalive interval > 2^31-1 ms does not probe every ms and drop a quiet peer", async () => {
    const [a, b] = createDuplexPair({ protocol: "bimux.ext.v1" });
    const muxer = new Muxer(a, { keepalive: { interval: 2 ** 32 } });
    new Muxer(b, { keepalive: false });
    a.blackhole(); // peer quiet for 100 ms
    await sleep(100);
    expect(muxer.closed).toBe(false); // got true: closed 1006 "peer stopped answering keepalive"
    muxer.close();
  });

  it("maxConcurrent still counts a handler that runs on after its caller cancelled", async () => {
    const [a, b] = createDuplexPair({ protocol: "bimux.ext.v1" });
    let running = 0;
    new Muxer(b, { keepalive: false, maxConcurrent: 1, onRpc: () => (running++, new Promise<Uint8Array>(() => {})) });
    const caller = new Muxer(a, { keepalive: false });
    for (let i = 0; i < 5; i++) {
      const ac = new AbortController();
      const call = caller.rpc(1, bytes(""), { signal: ac.signal }).catch(() => {});
      await sleep(1);
      ac.abort();
      await call;
      await sleep(1);
    }
    expect(running).toBe(1); // got 5 handlers running at once with maxConcurrent: 1
    caller.close();
  });

  it("a request whose wire timeout is > 2^31-1 ms does not abort ctx.signal at once", async () => {
    const [raw, side] = createDuplexPair({ protocol: "bimux.ext.v1" });
    raw.open({ message: () => {}, closed: () => {} });
    let reason: unknown;
    const callee = new Muxer(side, {
      keepalive: false,
      onRpc: async (_r, _d, _m, ctx) => {
        ctx.signal.addEventListener("abort", () => (reason = ctx.signal.reason));
        await sleep(50);
        return bytes("done");
      },
    });
    raw.send(writeFrame({ number: 1, flag: 0, route: 1, data: new Uint8Array(0), timeout: 3_000_000_000 })); // legal uint32
    await sleep(100);
    expect(reason).toBeUndefined(); // got BimuxError [timeout] the caller's 3000000000 ms passed (after ~1 ms)
    callee.close();
  });

  it("a call still times out after the wall clock steps back", async () => {
    // Fake time: the wall clock (Date) steps back a minute, the monotonic one (performance.now) does not.
    const core = await onFakeTime(() => import("../src/index.js"));
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
    const core = await onFakeTime(() => import("../src/index.js"));
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

  it("a reused request number gets at most one answer even if the new request is answered synchronously", async () => {
    const [raw, side] = createDuplexPair({ protocol: "bimux.ext.v1" });
    const received: Frame[] = [];
    raw.open({ message: (d) => void received.push(decodeFrame(d as Uint8Array)), closed: () => {} });
    let slowSignal: AbortSignal | undefined;
    const callee = new Muxer(side, {
      keepalive: false,
      handlers: {
        1: async (_r, _d, _m, ctx) => ((slowSignal = ctx.signal), await sleep(30), bytes("slow")),
        2: () => bytes("fast"), // synchronous (same for unimplemented / overloaded refusals)
      },
    });
    raw.send(writeFrame({ number: 7, flag: 0, route: 1, data: new Uint8Array(0) }));
    await sleep(5);
    raw.send(writeFrame({ number: 7, flag: 0, route: 2, data: new Uint8Array(0) })); // peer reuses #7
    await sleep(60);
    callee.close();
    expect(received.filter((f) => f.number === 7).map((f) => text(f.data))).toEqual(["fast"]); // got ["fast", "slow"]
    expect(slowSignal?.aborted).toBe(true); // got false
  });

  it("a handler that keeps its context past its answer does not see the deadline abort a finished call", async () => {
    let kept: CallContext | undefined;
    const { muxer, far } = rawPeer({ onRpc: (_r, _d, _m, ctx) => ((kept = ctx), bytes("done")) });
    far.send(writeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes(""), timeout: 20 }));
    await sleep(1);
    expect(kept!.signal.aborted).toBe(false); // asked for only after the answer went
    await sleep(40);
    expect(kept!.signal.aborted).toBe(false);
    muxer.close();
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

  it("drops without a report an answer the closing transport refuses: the close tells everyone", () => {
    let sink: DuplexSink | undefined;
    const duplex: Duplex = {
      open: (s) => void (sink = s),
      send: () => {
        throw new Error("WebSocket is not open (readyState 2)");
      },
      close: () => {},
      bufferedAmount: 0,
    };
    const reported: BimuxError[] = [];
    new Muxer(duplex, { keepalive: false, onRpc: () => bytes("answer"), onError: (e) => void reported.push(e) });
    sink!.message(writeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes("") }));
    expect(reported).toEqual([]);
  });
});

// The requests and one-way messages a muxer receives: which handler runs, how its
// failures become error replies, its signal (cancel, deadline, close), maxConcurrent.
import { afterEach, describe, expect, it, vi } from "vitest";
import { BimuxError, type CallContext, decodeFrame, type Duplex, type DuplexSink, encodeFrame, EXTENSIONS_PROTOCOL, Flag, type Frame, Muxer } from "@bimux/core";
import { createDuplexPair } from "@bimux/core/testing";
import { bytes, rejection, sleep, text } from "../../../../test-support/helpers.js";
import { extPair, extRawPeer, flush, outcome, pair, waitsForAbort } from "../fixtures/muxers.js";
import { onFakeTime } from "../../../../test-support/fake-time.js";

// Tests on fake time put the real clock back, whatever they assert.
afterEach(() => vi.useRealTimers());

describe("dispatch: which handler runs", () => {
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

  it("lets handle() take a route over from onRpc and give it back; the remover of a handler since replaced does nothing", async () => {
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

  it("replies with empty bytes when a handler returns nothing", async () => {
    const { a } = pair({}, { onRpc: () => undefined });
    expect((await a.rpc(1, bytes("x"))).length).toBe(0);
  });

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
});

describe("dispatch: a failing handler becomes an error reply", () => {
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

  it("never sends stack traces unless asked to", async () => {
    const boom = () => {
      throw new Error("boom");
    };
    const quiet = await rejection(extPair({}, { onRpc: boom }).a.rpc(1, bytes("")));
    expect(quiet.rawMessage).toBe("boom");
    const loud = await rejection(extPair({}, { onRpc: boom, exposeStack: true }).a.rpc(1, bytes("")));
    expect(loud.rawMessage).toContain("boom\nError: boom\n    at ");
  });

  it("a handler throwing an object without toString still gets an error reply", async () => {
    const { a } = pair({}, {
      onRpc: () => {
        throw Object.create(null);
      },
    });
    const r = await outcome(a.rpc(1, bytes("x"), { timeout: 500 }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.e.code).toBe("remote");
  });

  it("an async handler rejecting with an Error whose message getter throws still gets an error reply", async () => {
    const { a } = pair({}, {
      onRpc: async () => {
        const e = new Error("x");
        Object.defineProperty(e, "message", { get() { throw new Error("boom"); } });
        throw e;
      },
    });
    const r = await outcome(a.rpc(1, bytes("x"), { timeout: 500 }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.e.code).not.toBe("timeout");
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

  it("a thrown null is reported as null, not 'undefined'", async () => {
    const { a } = pair({}, { onRpc: () => { throw null; } });
    const r = await outcome(a.rpc(1, bytes("x")));
    expect(!r.ok && r.e.rawMessage).toBe("null");
  });

  it("an error reply whose message (cut to 1024 chars) exceeds maxMessageSize still answers the caller", async () => {
    const { a } = pair({ maxMessageSize: 2048 }, {
      maxMessageSize: 2048,
      onRpc: () => {
        throw new Error("é".repeat(1500));
      },
    });
    const r = await outcome(a.rpc(1, bytes("x"), { timeout: 500 }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.e.code).not.toBe("timeout");
  });

  it("exposeStack with a long message still answers the caller", async () => {
    const { a } = pair({}, {
      maxMessageSize: 4096,
      exposeStack: true,
      onRpc: () => {
        throw new Error("x".repeat(5000));
      },
    });
    const r = await outcome(a.rpc(1, bytes("x"), { timeout: 500 }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.e.code).not.toBe("timeout");
  });

  it("answers a call whose reply would be too large with a too_large error, not silence", async () => {
    const { a, b } = extPair({}, { maxMessageSize: 100, onRpc: () => new Uint8Array(500), onError: () => {} });
    const error = await rejection(a.rpc(1, bytes("")));
    expect([error.code, error.remote]).toEqual(["too_large", true]);
    expect(b.closed).toBe(false);
  });

  it("an async handler that closes the connection and then rejects leaves no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const on = (r: unknown) => unhandled.push(r);
    process.on("unhandledRejection", on);
    try {
      const { a } = pair({}, {
        onRpc: async (_r, _d, m) => {
          m.close();
          throw new Error("after close");
        },
      });
      const r = await outcome(a.rpc(1, bytes("x")));
      expect(r.ok).toBe(false);
      await new Promise((res) => setTimeout(res, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", on);
    }
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
    sink!.message(encodeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes("") }));
    expect(reported).toEqual([]);
  });
});

describe("dispatch: the handler's signal (cancel, deadline, close)", () => {
  it("aborting a call cancels the remote handler, which sends no answer", async () => {
    const seen: BimuxError[] = [];
    const { a, b } = extPair({}, { onRpc: waitsForAbort(seen) });
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

  it("counts in servingCalls the calls still owed an answer: a cancelled one no longer, though its handler runs on", async () => {
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

  it("the caller's timeout travels with the request and aborts the handler's signal at the deadline, not before", async () => {
    const core = await onFakeTime(() => import("@bimux/core"));
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
    const { muxer, far, received } = extRawPeer({ onRpc: waitsForAbort([]) });
    const realNow = performance.now.bind(performance);
    let lag = 0;
    const clock = vi.spyOn(performance, "now").mockImplementation(() => realNow() - lag);
    try {
      far.send(encodeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes(""), timeout: 20 }));
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
    const { a } = extPair({ keepalive: false }, { keepalive: false, handlers: { 1: () => new Promise<Uint8Array>((r) => (release = () => r(bytes("42")))) } });
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
    const { muxer, far } = extRawPeer({
      onRpc: async (_r, _d, _m, ctx) => {
        await sleep(30);
        aborted = ctx.signal.aborted;
        return bytes("late");
      },
    });
    far.send(encodeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes(""), timeout: 10 }));
    await sleep(60);
    expect(aborted).toBe(true);
    expect(muxer.servingCalls).toBe(0);
  });

  it("a handler that looks at its signal only after the caller cancelled, or the connection closed, finds it aborted", async () => {
    const reasons: unknown[] = [];
    const { muxer, far, received } = extRawPeer({
      onRpc: async (_r, _d, _m, ctx) => {
        await sleep(20);
        reasons.push(ctx.signal.aborted && (ctx.signal.reason as BimuxError).code);
        return bytes("late");
      },
    });
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
    const { muxer, far } = extRawPeer({
      onRpc: async (_r, _d, m, ctx) => {
        m.close();
        await sleep(1);
        reason = ctx.signal.aborted && (ctx.signal.reason as BimuxError).code;
        return bytes("late");
      },
    });
    far.send(encodeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes("") }));
    await sleep(10);
    expect(reason).toBe("closed");
    expect(muxer.servingCalls).toBe(0);
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
    raw.send(encodeFrame({ number: 1, flag: 0, route: 1, data: new Uint8Array(0), timeout: 3_000_000_000 })); // legal uint32
    await sleep(100);
    expect(reason).toBeUndefined(); // got BimuxError [timeout] the caller's 3000000000 ms passed (after ~1 ms)
    callee.close();
  });

  it("a handler that keeps its context past its answer does not see the deadline abort a finished call", async () => {
    // Fake time: the signal is first asked for 1 ms after the answer, well before the 20 ms
    // deadline, however slow the machine (on real time a loaded one made it 20 ms or more).
    const core = await onFakeTime(() => import("@bimux/core"));
    const [near, far] = createDuplexPair({ protocol: EXTENSIONS_PROTOCOL });
    far.open({ message: () => {}, closed: () => {} });
    let kept: CallContext | undefined;
    const muxer = new core.Muxer(near, { keepalive: false, onRpc: (_r, _d, _m, ctx) => ((kept = ctx), bytes("done")) });
    far.send(encodeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes(""), timeout: 20 }));
    await vi.advanceTimersByTimeAsync(1);
    expect(kept!.signal.aborted).toBe(false); // asked for only after the answer went
    await vi.advanceTimersByTimeAsync(40);
    expect(kept!.signal.aborted).toBe(false);
    muxer.close();
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
    raw.send(encodeFrame({ number: 7, flag: 0, route: 1, data: new Uint8Array(0) }));
    await sleep(5);
    raw.send(encodeFrame({ number: 7, flag: 0, route: 2, data: new Uint8Array(0) })); // peer reuses #7
    await sleep(60);
    callee.close();
    expect(received.filter((f) => f.number === 7).map((f) => text(f.data))).toEqual(["fast"]); // got ["fast", "slow"]
    expect(slowSignal?.aborted).toBe(true); // got false
  });
});

describe("dispatch: maxConcurrent", () => {
  it("answers requests past maxConcurrent with `overloaded`, and serves again when room frees up", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { a } = extPair({}, { maxConcurrent: 3, onRpc: async () => (await gate, bytes("ok")) });
    const calls = Array.from({ length: 5 }, () => a.rpc(1, bytes("")).then(() => "ok", (e: BimuxError) => e.code));
    await sleep(5);
    release();
    expect((await Promise.all(calls)).sort()).toEqual(["ok", "ok", "ok", "overloaded", "overloaded"]);
    expect(await a.rpc(1, bytes("")).then(() => "ok")).toBe("ok");
  });

  it("with maxConcurrent 0, refuses every request with overloaded", async () => {
    const { a } = pair({ keepalive: false }, { keepalive: false, maxConcurrent: 0, onRpc: () => bytes("x") });
    const e = await rejection(a.rpc(1, bytes("")));
    expect([e.code, e.remote]).toEqual(["overloaded", true]);
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
});

// ReconnectingMuxer: state, handlers and id across reconnects, the queue while down, backoff.
import { afterEach, describe, expect, it, vi } from "vitest";
import { BimuxError, type ConnectionState, type Duplex, Muxer, ReconnectingMuxer, type ReconnectingMuxerOptions } from "@bimux/core";
import { createDuplexPair, type MemoryDuplex } from "@bimux/core/testing";
import { bytes, rejection, sleep, text, until } from "../../../test-support/helpers.js";
import { onFakeTime, settle } from "../../../test-support/fake-time.js";

// Tests on fake time put the real clock back, whatever they assert.
afterEach(() => vi.useRealTimers());

/** A pretend server: each connect makes a fresh in-memory connection, unless it is down. */
function fakeServer() {
  const server = {
    up: true,
    attempts: 0,
    peers: [] as Muxer[],
    wires: [] as MemoryDuplex[],
    connect: async () => {
      server.attempts++;
      if (!server.up) throw new Error("connection refused");
      const [client, side] = createDuplexPair();
      server.wires.push(side);
      server.peers.push(new Muxer(side, { onRpc: (_r, d) => bytes(`server got ${text(d)}`), keepalive: false }));
      return client;
    },
    get last() {
      return server.peers[server.peers.length - 1]!;
    },
  };
  return server;
}

function client(server: ReturnType<typeof fakeServer>, options: ReconnectingMuxerOptions = {}) {
  const states: ConnectionState[] = [];
  const c = new ReconnectingMuxer(server.connect, {
    initialDelay: 5,
    maxDelay: 20,
    keepalive: false,
    onStateChange: (s) => void states.push(s),
    ...options,
  });
  return { c, states };
}

/** A connect function whose server side is a plain Muxer per connection; `gate` holds connecting. */
function harness(serverOpts: ConstructorParameters<typeof Muxer>[1] = {}) {
  const servers: Muxer[] = [];
  const ends: MemoryDuplex[] = [];
  let release!: () => void;
  let gate: Promise<void> = new Promise((r) => (release = r));
  const connect = async (_signal: AbortSignal): Promise<Duplex> => {
    await gate;
    const [c, s] = createDuplexPair();
    servers.push(new Muxer(s, { keepalive: false, ...serverOpts }));
    ends.push(c);
    return c;
  };
  return {
    connect, servers, ends,
    open: () => release(),
    hold: () => (gate = new Promise((r) => (release = r))),
  };
}

describe("ReconnectingMuxer: across reconnects", () => {
  it("reports its state, takes handlers and an id while connecting, and keeps an id a handler set across reconnects", async () => {
    const h = harness();
    const states: string[] = [];
    const client = new ReconnectingMuxer(h.connect, { keepalive: false, initialDelay: 1, maxDelay: 5, onStateChange: (s) => states.push(s) });
    expect(client.state).toBe("connecting");
    client.handle(1, () => bytes("h1"));
    client.id = "agent";
    h.open();
    await client.ready();
    expect(client.state).toBe("open");
    expect(client.muxer!.id).toBe("agent");
    expect(text(await h.servers[0]!.rpc(1, bytes("")))).toBe("h1");
    // a handler renames the live muxer: the client's id from then on
    client.muxer!.id = "renamed";
    expect(client.id).toBe("renamed");
    h.ends[0]!.drop();
    await until(() => h.servers.length === 2 && client.state === "open");
    expect(client.muxer!.id).toBe("renamed");
    expect(text(await h.servers[1]!.rpc(1, bytes("")))).toBe("h1");
    client.close(4000, "done");
    expect(client.state).toBe("closed");
    expect(await client.wait()).toEqual({ code: 4000, reason: "done", initiator: "local" });
    expect((await h.servers[1]!.wait()).code).toBe(4000);
    expect(states).toEqual(["open", "connecting", "open", "closed"]);
  });

  it("comes back after a drop with its handlers and id, so the server can call it again", async () => {
    const server = fakeServer();
    const { c, states } = client(server, { handlers: { 1: () => bytes("client v1") } });
    c.id = "agent-7";
    await c.ready();
    c.handle(2, () => bytes("added later"));
    expect(text(await server.last.rpc(1, bytes("")))).toBe("client v1");
    server.wires[0]!.drop();
    await until(() => server.peers.length === 2 && c.state === "open");
    expect(text(await server.last.rpc(1, bytes("")))).toBe("client v1");
    expect(text(await server.last.rpc(2, bytes("")))).toBe("added later");
    expect(c.muxer?.id).toBe("agent-7");
    expect(text(await c.rpc(9, bytes("hi")))).toBe("server got hi");
    expect(states).toEqual(["open", "connecting", "open"]);
    c.close();
    expect(c.state).toBe("closed");
  });

  it("an id set by a handler on the live muxer is the client's id, and survives a reconnect", async () => {
    const wires: MemoryDuplex[] = [];
    const servers: Muxer[] = [];
    const client = new ReconnectingMuxer(
      async () => {
        const [c, s] = createDuplexPair();
        wires.push(s);
        servers.push(new Muxer(s, { keepalive: false }));
        return c;
      },
      {
        initialDelay: 5, maxDelay: 10, keepalive: false,
        // e.g. the server tells the client its name after login (Go: muxer.SetID in a handler)
        handlers: { 1: (_r, data, muxer) => void (muxer.id = new TextDecoder().decode(data)) },
      },
    );
    await client.ready();
    await servers[0]!.rpc(1, new TextEncoder().encode("alice"));
    expect(client.muxer!.id).toBe("alice");
    expect(client.id).toBe("alice");
    wires[0]!.drop();
    await new Promise((r) => setTimeout(r, 5));
    await client.ready();
    expect(client.muxer!.id).toBe("alice");
    client.close();
  });

  it("removes a handler from the live connection even after a reconnect, and refuses a bad route", async () => {
    const server = fakeServer();
    const { c } = client(server);
    await c.ready();
    const remove = c.handle(3, () => bytes("three"));
    server.wires[0]!.drop();
    await until(() => server.peers.length === 2 && c.state === "open");
    expect(text(await server.last.rpc(3, bytes("")))).toBe("three");
    remove();
    expect((await rejection(server.last.rpc(3, bytes("")))).code).toBe("unimplemented");
    expect(() => c.handle(2 ** 31, () => bytes(""))).toThrow(BimuxError);
    c.close();
  });

  it("a connection the server closes at once is not reported open; queued calls wait for the next one", async () => {
    let attempts = 0;
    const seen: Array<{ state: ConnectionState; muxerClosed: boolean | undefined }> = [];
    const c = new ReconnectingMuxer(
      async () => {
        attempts++;
        const [client, side] = createDuplexPair();
        const server = new Muxer(side, { onRpc: (_r, d) => bytes(`server got ${text(d)}`), keepalive: false });
        if (attempts === 1) server.close(4000, "go away"); // server refuses this client once
        return client;
      },
      { initialDelay: 20, maxDelay: 20, jitter: 0, keepalive: false, queueLimit: 5,
        onStateChange: (state, cl) => void seen.push({ state, muxerClosed: cl.muxer?.closed }) },
    );
    const queued = c.rpc(1, bytes("hi"), { timeout: 2000 }).then(text, (e) => `rejected: ${e.message}`);
    await c.ready();
    const live = c.muxer !== undefined && !c.muxer.closed;
    const states = seen.slice();
    const result = await queued;
    c.close();
    expect(result).toBe("server got hi"); // got "rejected: [closed] rpc on a closed connection"
    expect(states[0]).toEqual({ state: "open", muxerClosed: false }); // got muxerClosed: true
    expect(live).toBe(true); // ready() resolved with no live connection
  });
});

describe("ReconnectingMuxer: calls while down", () => {
  it("rejects calls in flight when the connection drops, and fails fast while down by default", async () => {
    const server = fakeServer();
    const { c } = client(server);
    await c.ready();
    server.last.handle(5, () => new Promise(() => {}));
    const inFlight = rejection(c.rpc(5, bytes("")));
    await sleep(1);
    server.up = false;
    server.wires[0]!.drop();
    expect((await inFlight).code).toBe("closed");
    await until(() => c.state === "connecting");
    expect((await rejection(c.rpc(1, bytes("")))).code).toBe("unavailable");
    expect((await rejection(c.send(1, bytes("")))).code).toBe("unavailable");
    c.close();
  });

  it("refuses calls and sends while connecting without a queueLimit, and queues them with one", async () => {
    const got: string[] = [];
    const h = harness({ onOneway: (_r, d) => void got.push(text(d)) });
    const plain = new ReconnectingMuxer(h.connect, { keepalive: false });
    expect((await rejection(plain.send(1, bytes("a")))).code).toBe("unavailable");
    expect((await rejection(plain.rpc(1, bytes("a")))).code).toBe("unavailable");
    plain.close();
    const h2 = harness({ onOneway: (_r, d) => void got.push(text(d)), onRpc: (_r, d) => d });
    const queued = new ReconnectingMuxer(h2.connect, { keepalive: false, queueLimit: 2 });
    const s1 = queued.send(1, bytes("q1"));
    const r1 = queued.rpc(1, bytes("r1"), { timeout: 1000 });
    expect((await rejection(queued.send(1, bytes("q3")))).code).toBe("unavailable");
    h2.open();
    await s1;
    expect(text(await r1)).toBe("r1");
    await until(() => got.includes("q1"));
    queued.close();
  });

  it("queues calls made while down, up to the limit, and sends them once back", async () => {
    const server = fakeServer();
    const { c } = client(server, { queueLimit: 2 });
    await c.ready();
    server.up = false;
    server.wires[0]!.drop();
    await until(() => c.state === "connecting");
    const first = c.rpc(1, bytes("one"), { timeout: 5000 });
    const second = c.rpc(1, bytes("two"), { timeout: 5000 });
    expect((await rejection(c.rpc(1, bytes("three")))).code).toBe("unavailable");
    const late = rejection(c.rpc(1, bytes("late"), { timeout: 1 }));
    expect((await late).code).toBe("unavailable");
    server.up = true;
    expect(text(await first)).toBe("server got one");
    expect(text(await second)).toBe("server got two");
    c.close();
  });

  it("gives a queued call only its own timeout", async () => {
    const core = await onFakeTime(() => import("@bimux/core"));
    const server = fakeServer();
    server.up = false;
    const c = new core.ReconnectingMuxer(server.connect, { initialDelay: 5, maxDelay: 20, keepalive: false, queueLimit: 5 });
    let code: string | undefined;
    c.rpc(1, bytes(""), { timeout: 30 }).catch((e: BimuxError) => (code = e.code));
    await vi.advanceTimersByTimeAsync(29);
    expect(code).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(code).toBe("timeout");
    c.close();
  });

  it("a queued rpc keeps its own timeout while waiting", async () => {
    const core = await onFakeTime(() => import("@bimux/core"));
    const h = harness();
    const client = new core.ReconnectingMuxer(h.connect, { keepalive: false, queueLimit: 5 });
    let code: string | undefined;
    client.rpc(1, bytes(""), { timeout: 30 }).catch((e: BimuxError) => (code = e.code));
    await vi.advanceTimersByTimeAsync(29);
    expect(code).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(code).toBe("timeout");
    client.close();
    const e = await rejection(client.rpc(1, bytes("")));
    expect(e.code).toBe("closed");
    expect((await rejection(client.ready())).code).toBe("closed");
  });

  it("a call waiting to reconnect keeps its budget when the wall clock steps forward", async () => {
    const server = fakeServer();
    const { c } = client(server, { queueLimit: 1 });
    await c.ready();
    server.up = false;
    server.wires[0]!.drop();
    await until(() => c.state === "connecting");
    const call = c.rpc(1, bytes("one"), { timeout: 2000 });
    await sleep(10);
    const wall = Date.now.bind(Date);
    const clock = vi.spyOn(Date, "now").mockImplementation(() => wall() + 60_000); // an NTP step
    try {
      server.up = true;
      expect(text(await call)).toBe("server got one");
    } finally {
      clock.mockRestore();
      c.close();
    }
  });

  it("a queued call whose timeout is > 2^31-1 ms (= no limit) does not time out at once", async () => {
    let up = false;
    const c = new ReconnectingMuxer(
      async () => {
        if (!up) throw new Error("refused");
        const [client, side] = createDuplexPair();
        new Muxer(side, { onRpc: () => bytes("ok"), keepalive: false });
        return client;
      },
      { initialDelay: 5, maxDelay: 5, keepalive: false, queueLimit: 5, timeout: 2 ** 32 },
    );
    const call = c.rpc(1, bytes(""));
    setTimeout(() => (up = true), 50);
    expect(text(await call)).toBe("ok"); // got [timeout] ... timed out after 4294967296 ms waiting to reconnect (after ~1 ms)
    c.close();
  });

  it("refuses at once, while connecting, a call the muxer would refuse at once", async () => {
    // Fake time that never moves: the refusals cannot wait for a connection or a timeout.
    const core = await onFakeTime(() => import("@bimux/core"));
    const server = fakeServer();
    server.up = false;
    const c = new core.ReconnectingMuxer(server.connect, { initialDelay: 5, maxDelay: 20, keepalive: false, queueLimit: 5 });
    const codes: string[] = [];
    const code = (e: BimuxError) => void codes.push(e.code);
    c.rpc(2 ** 40, bytes("")).catch(code);
    c.send(1, "text" as unknown as Uint8Array).catch(code);
    c.rpc(1, bytes(""), { signal: AbortSignal.abort() }).catch(code);
    await settle();
    expect(codes).toEqual(["invalid_argument", "invalid_argument", "aborted"]);
    c.close();
  });
});

describe("ReconnectingMuxer: backoff and giving up", () => {
  it("backs off exponentially between failed attempts, up to maxDelay", async () => {
    const core = await onFakeTime(() => import("@bimux/core"));
    const server = fakeServer();
    server.up = false;
    const attempts: number[] = [];
    const started = performance.now();
    const c = new core.ReconnectingMuxer(
      async () => {
        attempts.push(performance.now() - started);
        return server.connect();
      },
      { initialDelay: 10, maxDelay: 40, factor: 2, jitter: 0, keepalive: false },
    );
    await vi.advanceTimersByTimeAsync(200);
    // The first attempt at once, then 10, 20, 40 and 40 again (maxDelay) after each failure.
    expect(attempts).toEqual([0, 10, 30, 70, 110, 150, 190]);
    c.close();
  });

  it("spreads its delays with jitter: each delay is shortened by a random part of at most `jitter`", async () => {
    const core = await onFakeTime(() => import("@bimux/core"));
    const server = fakeServer();
    server.up = false;
    const attempts: number[] = [];
    vi.spyOn(Math, "random").mockReturnValue(1);
    try {
      const c = new core.ReconnectingMuxer(
        async () => {
          attempts.push(performance.now());
          return server.connect();
        },
        { initialDelay: 100, maxDelay: 100, factor: 2, jitter: 0.5, keepalive: false },
      );
      await vi.advanceTimersByTimeAsync(160);
      // With the random part at its largest, every delay is half the base one.
      expect(attempts.slice(1).map((at, i) => at - attempts[i]!)).toEqual([50, 50, 50]);
      c.close();
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("gives up after maxAttempts, closing for good and rejecting ready()", async () => {
    const server = fakeServer();
    server.up = false;
    const { c, states } = client(server, { maxAttempts: 3 });
    const error = await rejection(c.ready());
    expect(error.code).toBe("closed");
    const info = await c.wait();
    expect(info.error?.code).toBe("unavailable");
    expect(server.attempts).toBe(3);
    expect(states).toEqual(["closed"]);
  });

  it("counts a connection the server drops at once as a failed attempt: it backs off and gives up at maxAttempts", async () => {
    const core = await onFakeTime(() => import("@bimux/core"));
    let accepted = 0;
    const c = new core.ReconnectingMuxer(
      async () => {
        accepted++;
        const [client, side] = createDuplexPair();
        const server = new core.Muxer(side, { keepalive: false });
        setTimeout(() => server.close(4001, "not you"), 1); // accepts, then turns the client away
        return client;
      },
      { initialDelay: 5, maxDelay: 20, jitter: 0, keepalive: false, maxAttempts: 3 },
    );
    let info: Awaited<ReturnType<typeof c.wait>> | undefined;
    void c.wait().then((i) => (info = i));
    // Three attempts, each closed 1 ms after it opened, with 5 and 10 ms between them.
    await vi.advanceTimersByTimeAsync(100);
    expect(accepted).toBe(3);
    expect(info?.reason).toMatch(/^gave up after 3 attempts: connection closed \d+ ms after opening \(4001\)$/);
  });

  it("closes for good, without an unhandled rejection, when the muxer refuses its options", async () => {
    const server = fakeServer();
    const { c } = client(server, { timeout: -5 });
    const error = await rejection(c.ready());
    expect(error.code).toBe("closed");
    expect(((await c.wait()).error as BimuxError).code).toBe("invalid_argument");
    expect(c.state).toBe("closed");
  });
});

describe("ReconnectingMuxer: close", () => {
  it("stops reconnecting once closed, and rejects queued calls", async () => {
    const server = fakeServer();
    const { c } = client(server, { queueLimit: 1 });
    await c.ready();
    server.up = false;
    server.wires[0]!.drop();
    await until(() => c.state === "connecting");
    const queued = rejection(c.rpc(1, bytes("")));
    c.close();
    expect((await queued).code).toBe("closed");
    const attempts = server.attempts;
    server.up = true;
    await sleep(50);
    expect(server.attempts).toBe(attempts);
    expect((await rejection(c.rpc(1, bytes("")))).code).toBe("closed");
  });

  it("a throwing onStateChange does not leave wait() hanging after close()", async () => {
    // Fake time that never moves: wait() must end with the close itself, not by some timer.
    const core = await onFakeTime(() => import("@bimux/core"));
    const c = new core.ReconnectingMuxer(
      async () => { const [x, y] = createDuplexPair(); new core.Muxer(y, { keepalive: false }); return x; },
      { keepalive: false, onStateChange: (s) => { if (s === "closed") throw new Error("app bug"); } },
    );
    await c.ready();
    try { c.close(); } catch {} // close() itself throws
    let r = "hang";
    void c.wait().then(() => (r = "ended"));
    await settle();
    expect(r).toBe("ended"); // got "hang"
  });
});

import { afterEach, describe, expect, it, vi } from "vitest";
import { Muxer, ReconnectingMuxer, type BimuxError, type Duplex } from "../src/index.js";
import { createDuplexPair, type MemoryDuplex } from "../src/testing.js";
import { bytes, rejection, sleep, text, until } from "../../../test-support/helpers.js";
import { onFakeTime } from "../../../test-support/fake-time.js";

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

describe("contracts: ReconnectingMuxer", () => {
  afterEach(() => vi.useRealTimers());

  it("state, ready, register while connecting, id across reconnects", async () => {
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

  it("send while connecting: unavailable without queueLimit, queued with it", async () => {
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

  it("a queued rpc keeps its own timeout while waiting", async () => {
    const core = await onFakeTime(() => import("../src/index.js"));
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
});

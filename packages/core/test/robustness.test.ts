import { describe, expect, it, vi } from "vitest";
import { BimuxError, Flag, Muxer, ReconnectingMuxer, decodeFrame, encodeFrame, type Duplex, type MuxerOptions } from "../src/index.js";
import { createDuplexPair, type MemoryDuplex } from "../src/testing.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
function pair(a: MuxerOptions = {}, b: MuxerOptions = {}) {
  const [da, db] = createDuplexPair();
  return { a: new Muxer(da, a), b: new Muxer(db, b), da, db };
}
const settle = <T,>(p: Promise<T>) => p.then((v) => ({ ok: true as const, v }), (e: BimuxError) => ({ ok: false as const, e }));

describe("robustness: hooks, odd thrown values, raw reads, large error replies", () => {
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
      const r = await settle(a.rpc(1, bytes("x")));
      expect(r.ok).toBe(false);
      await new Promise((res) => setTimeout(res, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", on);
    }
  });

  it("a handler throwing an object without toString still gets an error reply", async () => {
    const { a } = pair({}, {
      onRpc: () => {
        throw Object.create(null);
      },
    });
    const r = await settle(a.rpc(1, bytes("x"), { timeout: 500 }));
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
    const r = await settle(a.rpc(1, bytes("x"), { timeout: 500 }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.e.code).not.toBe("timeout");
  });

  it("an error reply whose message (cut to 1024 chars) exceeds maxMessageSize still answers the caller", async () => {
    const { a } = pair({ maxMessageSize: 2048 }, {
      maxMessageSize: 2048,
      onRpc: () => {
        throw new Error("é".repeat(1500));
      },
    });
    const r = await settle(a.rpc(1, bytes("x"), { timeout: 500 }));
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
    const r = await settle(a.rpc(1, bytes("x"), { timeout: 500 }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.e.code).not.toBe("timeout");
  });

  it("two raw packets sent back to back can be read with two sequential readPacket calls", async () => {
    const { a, b } = pair();
    const got = (async () => {
      const first = await b.readPacket();
      const second = await b.readPacket();
      return [text(first), text(second)];
    })();
    void a.writePacket(bytes("hello"));
    void a.writePacket(bytes("world"));
    expect(await got).toEqual(["hello", "world"]);
  });

  it("a thrown null is reported as null, not 'undefined'", async () => {
    const { a } = pair({}, { onRpc: () => { throw null; } });
    const r = await settle(a.rpc(1, bytes("x")));
    expect(!r.ok && r.e.rawMessage).toBe("null");
  });

  it("onClose and onError both throwing still closes the transport", async () => {
    const { a, b } = pair({
      onClose: () => { throw new Error("hook"); },
      onError: () => { throw new Error("onError"); },
    });
    try { a.close(); } catch {}
    const info = await Promise.race([b.wait(), new Promise((r) => setTimeout(() => r("hung"), 200))]);
    expect(info).not.toBe("hung");
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
});

describe("close reasons and keepalive probes", () => {
  it("cuts a close reason over 123 UTF-8 bytes at a character boundary, keeping as much as fits", () => {
    const sent: string[] = [];
    const duplex: Duplex = { open: () => {}, send: () => {}, close: (_c, r) => void sent.push(r), bufferedAmount: 0 };
    new Muxer(duplex, { keepalive: false }).close(4000, "a" + "😀".repeat(60));
    const reason = sent[0]!;
    expect(reason).not.toContain("\uFFFD");
    expect(reason.endsWith("…")).toBe(true);
    expect(new TextEncoder().encode(reason).length).toBeLessThanOrEqual(123);
    expect(new TextEncoder().encode(reason).length).toBeGreaterThan(118);
    expect(("a" + "😀".repeat(60)).startsWith(reason.slice(0, -1))).toBe(true);
    const exact = "x".repeat(123);
    new Muxer({ ...duplex, close: (_c, r) => void sent.push(r) }, { keepalive: false }).close(4000, exact);
    expect(sent[1]).toBe(exact);
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
    const muxer = new Muxer(duplex, { keepalive: { interval: 20 } });
    await new Promise((r) => setTimeout(r, 70));
    expect(pings).toBeGreaterThan(0);
    expect(sent).toEqual([]); // no ping message: a busy browser page answers the transport's ping anyway
    muxer.close();
  });
});

describe("raw reads while messages are held", () => {
  it("gives raw messages to readPacket calls in the order the calls were made", async () => {
    const [near, far] = createDuplexPair();
    far.open({ message() {}, closed() {} });
    const muxer = new Muxer(near, { keepalive: false });
    const got: string[] = [];
    const r0 = muxer.readPacket().then((p) => got.push(`r0=${text(p)}`));
    far.send(bytes("p1"));
    await r0; // p1 handed over: the hold window is open
    const r1 = muxer.readPacket().then((p) => got.push(`r1=${text(p)}`)); // waits: nothing held yet
    far.send(bytes("p2"));
    await new Promise<void>((r) => queueMicrotask(r));
    await new Promise<void>((r) => queueMicrotask(r)); // p2 delivered, while r1 waits
    const r2 = muxer.readPacket().then((p) => got.push(`r2=${text(p)}`)); // the later read
    far.send(bytes("p3"));
    await Promise.all([r1, r2]);
    expect(got).toEqual(["r0=p1", "r1=p2", "r2=p3"]);
    muxer.close();
  });

  it("a one-way message that arrived before the close, right after a raw read, is still handled", async () => {
    const [near, far] = createDuplexPair();
    far.open({ message() {}, closed() {} });
    const seen: string[] = [];
    const muxer = new Muxer(near, { keepalive: false, onOneway: (_r, d) => void seen.push(text(d)) });
    const hello = muxer.readPacket();
    far.send(bytes("hello"));                                               // raw handshake message
    far.send(encodeFrame({ number: 1, flag: Flag.oneway, route: 1, data: bytes("bye") })); // then muxed traffic
    far.close(1000, "done");                                                // then the peer closes
    expect(text(await hello)).toBe("hello");
    await muxer.wait();
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(["bye"]);
  });

  it("a reply that arrived before the close, right after a raw read, resolves its call", async () => {
    const [near, far] = createDuplexPair();
    far.open({
      message(d) {
        if (text(d as Uint8Array) === "hello?") return far.send(bytes("hello"));
        const req = decodeFrame(d as Uint8Array);
        // The peer answers the request, then hangs up at once.
        far.send(encodeFrame({ number: req.number, flag: Flag.response, route: req.route, data: bytes("answer") }));
        far.close(1000, "done");
      },
      closed() {},
    });
    const muxer = new Muxer(near, { keepalive: false });
    const hello = muxer.readPacket();
    await muxer.writePacket(bytes("hello?"));
    expect(text(await hello)).toBe("hello");
    // Right after the handshake, the first call.
    expect(text(await muxer.rpc(1, bytes("q")))).toBe("answer");
  });
});

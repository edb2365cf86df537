import { describe, expect, it } from "vitest";
import { BimuxError, Muxer, ReconnectingMuxer, type MuxerOptions } from "../src/index.js";
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

// server.peers: live peers by id, as ids change and connections leave.
import { describe, expect, it, vi } from "vitest";
import { dial, Muxer, PeerRegistry } from "@bimux/node";
import { createDuplexPair } from "@bimux/core/testing";
import { bytes, text } from "../../../../test-support/helpers.js";
import { start } from "../fixtures/servers.js";

describe("peer registry", () => {
  it("keeps live peers by id and forgets them when they leave", async () => {
    const onClose = vi.fn();
    const { server, url } = await start({ onConnection: (m, req) => (m.id = new URL(req.url!, "http://x").searchParams.get("agent") ?? m.id), onClose });
    const a = await dial(`${url}?agent=alpha`, { onRpc: () => bytes("I am alpha") });
    const b = await dial(`${url}?agent=beta`, { onRpc: () => bytes("I am beta") });
    while (server.peers.size < 2) await new Promise((r) => setTimeout(r, 5));
    expect(text(await server.peers.get("alpha")!.rpc(1, bytes("")))).toBe("I am alpha");
    expect(text(await server.peers.get("beta")!.rpc(1, bytes("")))).toBe("I am beta");
    server.peers.get("beta")!.id = "gamma";
    expect(server.peers.has("beta")).toBe(false);
    expect(text(await server.peers.get("gamma")!.rpc(1, bytes("")))).toBe("I am beta");
    a.close();
    while (server.peers.has("alpha")) await new Promise((r) => setTimeout(r, 5));
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(server.peers.size).toBe(1);
    b.close();
  });

  it("finds the other peer of a shared id once the one that took it last is gone", async () => {
    const { server, url } = await start({ onConnection: (m) => (m.id = "agent") });
    const first = await dial(url, { onRpc: () => bytes("first") });
    const second = await dial(url, { onRpc: () => bytes("second") });
    while (server.peers.size < 2) await new Promise((r) => setTimeout(r, 5));
    expect(text(await server.peers.get("agent")!.rpc(1, bytes("")))).toBe("second");
    second.close();
    while (server.peers.size > 1) await new Promise((r) => setTimeout(r, 5));
    expect(text(await server.peers.get("agent")!.rpc(1, bytes("")))).toBe("first");
    first.close();
    while (server.peers.size > 0) await new Promise((r) => setTimeout(r, 5));
    expect(server.peers.has("agent")).toBe(false);
  });

  it("with three live muxers on one id, losing the latest taker finds the one that took it next-latest", () => {
    const peers = new PeerRegistry();
    const make = () => {
      const m = new Muxer(createDuplexPair()[0], { keepalive: false, onIdChange: (mx, prev) => void peers.rename(mx, prev) });
      peers.add(m);
      return m;
    };
    const a = make(), b = make(), c = make();
    a.id = "user-1"; // first connection (by now half-dead)
    b.id = "user-1"; // the client reconnected
    c.id = "user-1"; // and again
    expect(peers.get("user-1")).toBe(c);
    peers.remove(c); // the latest drops
    expect(peers.get("user-1")).toBe(b); // fails: a, the oldest
  });

  it("closing a connection does not scan every live connection when ids are left at the default ''", () => {
    const registry = new PeerRegistry();
    let reads = 0;
    const fake = () => ({ get id() { reads++; return ""; } }) as unknown as Muxer;
    for (let i = 0; i < 10_000; i++) registry.add(fake()); // idle clients that never set an id
    reads = 0;
    // Churn: 100 short-lived anonymous connections come and go.
    for (let i = 0; i < 100; i++) {
      const m = fake();
      registry.add(m);
      registry.remove(m);
    }
    // O(1) per connection before 52f8027/04b4242; now each close walks all 10,000 live muxers.
    expect(reads).toBeLessThan(100 * 10);
  });
});

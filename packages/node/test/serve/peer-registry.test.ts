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

  it("keeps the first peer of an id: a second connection taking it is closed, and the id is free once the first is gone", async () => {
    const { server, url } = await start({ onConnection: (m) => (m.id = "agent") });
    const first = await dial(url, { onRpc: () => bytes("first") });
    const second = await dial(url, { onRpc: () => bytes("second") });
    expect((await second.wait()).code).toBe(1008);
    expect(text(await server.peers.get("agent")!.rpc(1, bytes("")))).toBe("first");
    first.close();
    while (server.peers.size > 0) await new Promise((r) => setTimeout(r, 5));
    expect(server.peers.has("agent")).toBe(false);
    const third = await dial(url, { onRpc: () => bytes("third") });
    while (!server.peers.has("agent")) await new Promise((r) => setTimeout(r, 5));
    expect(text(await server.peers.get("agent")!.rpc(1, bytes("")))).toBe("third");
    third.close();
  });

  it("an id names one live muxer; with the replace policy the newest takes it and the older is closed", () => {
    const make = (peers: PeerRegistry) => {
      const m = new Muxer(createDuplexPair()[0], { keepalive: false, onIdChange: (mx, prev) => void peers.rename(mx, prev) });
      peers.add(m);
      return m;
    };
    const refusing = new PeerRegistry();
    const a = make(refusing), b = make(refusing);
    a.id = "user-1";
    b.id = "user-1"; // refused: b is closed and not filed
    expect([refusing.get("user-1"), b.closed, refusing.size]).toEqual([a, true, 1]);
    const replacing = new PeerRegistry("replace");
    const c = make(replacing), d = make(replacing);
    c.id = "user-1";
    d.id = "user-1"; // the client reconnected: the newer wins
    expect([replacing.get("user-1"), c.closed, replacing.size]).toEqual([d, true, 1]);
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

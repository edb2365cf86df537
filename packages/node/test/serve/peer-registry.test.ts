// server.peers: live peers by id, as ids change and connections leave. The registry on its
// own (policies, events, cost): packages/core/test/transport/peer-registry.test.ts.
import { describe, expect, it, vi } from "vitest";
import { dial } from "@bimux/node";
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
    const left: string[] = [];
    server.peers.on("leave", (_muxer, id) => void left.push(id));
    const first = await dial(url, { onRpc: () => bytes("first") });
    const second = await dial(url, { onRpc: () => bytes("second") });
    expect((await second.wait()).code).toBe(1008);
    expect(text(await server.peers.get("agent")!.rpc(1, bytes("")))).toBe("first");
    // The refused one left under the id it had: nobody is told that "agent" left while the first holds it.
    expect(left.filter((id) => id === "agent")).toEqual([]);
    first.close();
    while (server.peers.size > 0) await new Promise((r) => setTimeout(r, 5));
    expect(server.peers.has("agent")).toBe(false);
    const third = await dial(url, { onRpc: () => bytes("third") });
    while (!server.peers.has("agent")) await new Promise((r) => setTimeout(r, 5));
    expect(text(await server.peers.get("agent")!.rpc(1, bytes("")))).toBe("third");
    third.close();
  });
});

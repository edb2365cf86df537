// The peer registry's join and leave events, over real connections (on their own:
// packages/core/test/transport/peer-registry.test.ts).
import { describe, expect, it } from "vitest";
import { dial, type BimuxError } from "../src/index.js";
import { until } from "../../../test-support/helpers.js";
import { start } from "./fixtures/servers.js";

describe("PeerRegistry events", () => {
  it("tells of each connection that comes with an id, and of its end, over real WebSockets", async () => {
    const { server, url } = await start({ authenticate: (req) => ({ id: new URL(req.url!, "http://x").searchParams.get("id")! }) });
    const events: string[] = [];
    server.peers.on("join", (muxer, id) => events.push(`join ${id} ${muxer.id}`));
    server.peers.on("leave", (_muxer, id) => events.push(`leave ${id}`));
    const a = await dial(`${url}?id=agent-a`);
    await until(() => events.length === 1);
    expect(events).toEqual(["join agent-a agent-a"]);
    a.close();
    await until(() => events.length === 2);
    expect(events[1]).toBe("leave agent-a");
    expect(server.peers.size).toBe(0);
  });

  it("reports a listener's throw to serve's onError and still serves the connection", async () => {
    const reported: BimuxError[] = [];
    const { server, url } = await start({ onError: (error) => void reported.push(error) });
    server.peers.on("join", () => {
      throw new Error("listener bug");
    });
    const client = await dial(url, { handlers: { 1: () => new Uint8Array([7]) } });
    await until(() => server.peers.size === 1);
    const [peer] = [...server.peers];
    expect([...(await peer!.rpc(1, new Uint8Array()))]).toEqual([7]);
    expect(reported.map((e) => [e.code, e.rawMessage])).toEqual([["internal", "listener bug"]]);
    client.close();
  });
});

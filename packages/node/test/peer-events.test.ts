// The peer registry's join and leave events, over real connections and on their own.
import { describe, expect, it } from "vitest";
import { Muxer, PeerRegistry, dial, type BimuxError } from "../src/index.js";
import { createDuplexPair } from "@bimux/core/testing";
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

  it("tells of a rename as a leave of the old id, then a join of the new one, with the registry already up to date", () => {
    const peers = new PeerRegistry();
    const seen: string[] = [];
    peers.on("leave", (muxer, id) => seen.push(`leave ${id} (now ${muxer.id}, found: ${peers.has(id)})`));
    peers.on("join", (muxer, id) => seen.push(`join ${id} (found: ${peers.get(id) === muxer})`));
    const m = new Muxer(createDuplexPair()[0], { keepalive: false, id: "first", onIdChange: (mx, prev) => void peers.rename(mx, prev) });
    peers.add(m);
    m.id = "second";
    peers.remove(m);
    peers.remove(m); // twice: told once
    expect(seen).toEqual(["join first (found: true)", "leave first (now second, found: false)", "join second (found: true)", "leave second (now second, found: false)"]);
    m.close();
  });

  it("removes a listener with the function on() returned, and keeps telling the others when one throws", () => {
    const errors: unknown[] = [];
    const peers = new PeerRegistry("refuse", (error) => errors.push(error));
    const calls: string[] = [];
    const off = peers.on("join", () => calls.push("removed"));
    peers.on("join", () => {
      throw new Error("listener bug");
    });
    peers.on("join", (_m, id) => calls.push(id));
    off();
    const m = new Muxer(createDuplexPair()[0], { keepalive: false, id: "x" });
    peers.add(m);
    expect(calls).toEqual(["x"]);
    expect(errors).toHaveLength(1);
    expect(peers.get("x")).toBe(m);
    m.close();
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

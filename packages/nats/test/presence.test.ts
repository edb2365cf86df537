// Who is connected where: peers(), join and leave events, nodes that come late, leave, or hold the same id.
import { describe, expect, it } from "vitest";
import { dial, dialReconnecting, type Muxer } from "@bimux/node";
import { ID_IN_USE, type PeerLocation } from "@bimux/nats";
import { bytes, rejection, text, until } from "../../../test-support/helpers.js";
import { natsServer, node, ownNatsServer } from "./nats-server.js";

const sorted = (peers: PeerLocation[]) => peers.map((p) => `${p.id}@${p.node}`).sort();
const agent = (url: string, id: string): Promise<Muxer> => dial(`${url}?id=${encodeURIComponent(id)}`, { handlers: { 1: () => bytes(id) } });

describe("presence", () => {
  it("lists the peers of every node with their node, and tells of joins and leaves", async () => {
    const nats = await natsServer();
    const a = await node(nats, { node: "node-a" });
    const b = await node(nats, { node: "node-b" });
    const events: string[] = [];
    a.cluster.on("join", (p) => events.push(`join ${p.id}@${p.node}`));
    const off = a.cluster.on("leave", (p) => events.push(`leave ${p.id}@${p.node}`));
    const x = await agent(a.url, "x");
    const y = await agent(b.url, "y");
    await until(() => a.cluster.peers().length === 2 && b.cluster.peers().length === 2);
    expect(sorted(a.cluster.peers())).toEqual(["x@node-a", "y@node-b"]);
    expect(sorted(b.cluster.peers())).toEqual(["x@node-a", "y@node-b"]);
    expect(a.cluster.nodes().sort()).toEqual(["node-a", "node-b"]);
    y.close();
    await until(() => events.length === 3);
    expect(events.sort()).toEqual(["join x@node-a", "join y@node-b", "leave y@node-b"]);
    off();
    x.close();
    await until(() => a.cluster.peers().length === 0);
    expect(events).toHaveLength(3);
  });

  it("does not share peers without an id of their own (serve's peer-<n>), unless share says so", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats, { share: () => true });
    const anonymousA = await dial(a.url);
    const anonymousB = await dial(b.url);
    await until(() => b.cluster.peers().length === 1 && a.cluster.peers().length === 1);
    expect(b.cluster.peers()[0]!.node).toBe(b.cluster.node);
    expect(a.cluster.peers().map((p) => p.id)).toEqual([b.cluster.peers()[0]!.id]);
    anonymousA.close();
    anonymousB.close();
  });

  it("a node that joins late learns the peers already there, hundreds of them, in pages under a small max_payload", async () => {
    // 300 ids of 200 bytes are 60 KB: with an 8 KiB max_payload, many pages of a snapshot and many announcements.
    const nats = await ownNatsServer({ maxPayload: 8192 });
    const a = await node(nats);
    const many = await Promise.all(Array.from({ length: 300 }, (_, i) => agent(a.url, `early-${i}-${"x".repeat(200)}`)));
    await until(() => a.cluster.peers().length === 300);
    const late = await node(nats);
    await until(() => late.cluster.peers().length === 300, 10_000);
    expect(late.cluster.locate(`early-7-${"x".repeat(200)}`)).toEqual([a.cluster.node]);
    for (const m of many) m.close();
    await until(() => late.cluster.peers().length === 0, 10_000);
  });

  it("a node that leaves takes its peers with it at once; one that stops beating expires", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    const c = await node(nats, { heartbeat: 100_000, expireAfter: 100_000 });
    const y = await agent(b.url, "on-b");
    const z = await agent(c.url, "on-c");
    await until(() => a.cluster.peers().length === 2);
    const left: string[] = [];
    a.cluster.on("leave", (p) => left.push(p.id));
    await b.cluster.close();
    await until(() => left.includes("on-b"));
    expect(a.cluster.nodes()).not.toContain(b.cluster.node);
    // c said hello and beat once, and then not within a's expireAfter (3 × 200 ms).
    await until(() => left.includes("on-c"), 5000);
    expect(a.cluster.nodes()).not.toContain(c.cluster.node);
    y.close();
    z.close();
  });
});

describe("one id, one holder", () => {
  it("closes a newcomer with 1008 'id in use' when another node holds its id, and the holder keeps it", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    const first = await agent(a.url, "dup");
    await until(() => b.cluster.locate("dup").length === 1);
    const second = await agent(b.url, "dup");
    const info = await second.wait();
    expect([info.code, info.reason]).toEqual([1008, ID_IN_USE]);
    expect(text(await b.cluster.rpc("dup", 1, bytes("")))).toBe("dup");
    expect(b.cluster.locate("dup")).toEqual([a.cluster.node]);
    // Once the holder is gone, the id is free again.
    first.close();
    await until(() => b.cluster.locate("dup").length === 0);
    const third = await agent(b.url, "dup");
    await until(() => a.cluster.locate("dup").length === 1);
    expect(a.cluster.locate("dup")).toEqual([b.cluster.node]);
    third.close();
  });

  it("refuses a second connection with the same id on the same node too (the node's own registry: 409)", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const first = await agent(a.url, "same");
    await until(() => a.cluster.locate("same").length === 1);
    const second = await rejection(agent(a.url, "same"));
    expect([second.code, second.status]).toEqual(["already_exists", 409]);
    expect(first.closed).toBe(false);
    expect(text(await a.cluster.rpc("same", 1, bytes("")))).toBe("same");
    first.close();
  });

  it("when two nodes take one id at once, exactly one keeps it, and a reconnecting client gets in once the id is free", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    // Often both claims go out before either node holds the id, the race a claim cannot see;
    // else the later claim is answered. Either way one connection keeps the id.
    const [onA, onB] = await Promise.all([agent(a.url, "racer"), agent(b.url, "racer")]);
    await until(() => onA.closed !== onB.closed);
    const [winner, loser] = onA.closed ? [onB, onA] : [onA, onB];
    expect(loser.closeDetails!.reason).toBe(ID_IN_USE);
    await until(() => a.cluster.locate("racer").length === 1 && b.cluster.locate("racer").length === 1);
    expect(a.cluster.locate("racer")).toEqual(b.cluster.locate("racer"));
    // A reconnecting client with the id keeps trying, and is in once the winner leaves.
    // (Where the winner is on the same node, it is refused with 409 until then, and retries.)
    const connecting = dialReconnecting(`${a.url}?id=racer`, { handlers: { 1: () => bytes("patient") }, reconnect: { initialDelay: 20, maxDelay: 100 } });
    winner.close();
    const patient = await connecting;
    await until(async () => {
      try {
        return text(await b.cluster.rpc("racer", 1, bytes(""), { timeout: 1000 })) === "patient";
      } catch {
        return false;
      }
    }, 10_000);
    patient.close();
  });

  it("twenty races at once, each on its own id, each end with one holder that both nodes agree on", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    const ids = Array.from({ length: 20 }, (_, i) => `race-${i}`);
    const pairs = await Promise.all(ids.map((id) => Promise.all([agent(a.url, id), agent(b.url, id)])));
    await until(() => pairs.every(([x, y]) => x.closed !== y.closed));
    await until(() => ids.every((id) => a.cluster.locate(id).length === 1 && b.cluster.locate(id).length === 1));
    for (const [i, id] of ids.entries()) {
      const [onA] = pairs[i]!;
      expect(a.cluster.locate(id)).toEqual([onA.closed ? b.cluster.node : a.cluster.node]);
      expect(b.cluster.locate(id)).toEqual(a.cluster.locate(id));
    }
    for (const [x, y] of pairs) (x.close(), y.close());
  });
});

describe("renames", () => {
  it("follows a peer whose id changes on its node: the old id leaves, the new one joins and is reachable", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    const client = await agent(b.url, "before");
    await until(() => a.cluster.locate("before").length === 1);
    const muxer = b.server.peers.get("before")!;
    muxer.id = "after";
    await until(() => a.cluster.locate("after").length === 1 && a.cluster.locate("before").length === 0);
    expect(text(await a.cluster.rpc("after", 1, bytes("")))).toBe("before");
    expect((await rejection(a.cluster.rpc("before", 1, bytes("")))).code).toBe("unavailable");
    client.close();
  });
});

// The peer registry on its own (the servers' live connections by id): one live muxer per id,
// the duplicate-id policies, renames, and the join and leave events. Over real connections:
// packages/node/test/serve/peer-registry.test.ts, packages/node/test/peer-events.test.ts and
// packages/bun/test/bun-registry.test.ts.
import { describe, expect, it } from "vitest";
import { Muxer } from "@bimux/core";
import { PeerRegistry, isAutomaticId } from "@bimux/core/transport";
import { createDuplexPair } from "@bimux/core/testing";

/** A muxer on an in-memory duplex wired to the registry as a server's are (`following`): renames followed, closes forgotten. */
function served(peers: PeerRegistry, id = ""): Muxer {
  return new Muxer(createDuplexPair()[0], peers.following({ keepalive: false, id }));
}

/** A {@link served} muxer, registered. */
function registered(peers: PeerRegistry, id = ""): Muxer {
  const muxer = served(peers, id);
  peers.add(muxer);
  return muxer;
}

describe("PeerRegistry", () => {
  it("an id names one live muxer; with the replace policy the newest takes it and the older is closed", () => {
    const refusing = new PeerRegistry();
    const a = registered(refusing), b = registered(refusing);
    a.id = "user-1";
    b.id = "user-1"; // refused: b is closed and not filed
    expect([refusing.get("user-1"), b.closed, refusing.size]).toEqual([a, true, 1]);
    expect(b.closeDetails?.code).toBe(1008);
    const replacing = new PeerRegistry("replace");
    const c = registered(replacing), d = registered(replacing);
    c.id = "user-1";
    d.id = "user-1"; // the client reconnected: the newer wins
    expect([replacing.get("user-1"), c.closed, replacing.size]).toEqual([d, true, 1]);
    expect(c.closeDetails?.code).toBe(1008);
    d.close();
    a.close();
  });

  it("refuses a new connection with a live id, or replaces the live one, and says beforehand which it will do", () => {
    const refusing = new PeerRegistry();
    const first = registered(refusing, "agent");
    expect(refusing.available("agent")).toBe(false);
    expect(refusing.available("other")).toBe(true);
    const second = new Muxer(createDuplexPair()[0], { keepalive: false, id: "agent" });
    expect(refusing.add(second)).toBe(false);
    expect([second.closed, second.closeDetails?.code, refusing.get("agent"), refusing.size]).toEqual([true, 1008, first, 1]);
    const replacing = new PeerRegistry("replace");
    const old = registered(replacing, "agent");
    expect(replacing.available("agent")).toBe(true);
    const newer = new Muxer(createDuplexPair()[0], { keepalive: false, id: "agent" });
    expect(replacing.add(newer)).toBe(true);
    expect([old.closed, old.closeDetails?.code, replacing.get("agent"), replacing.size, [...replacing]]).toEqual([true, 1008, newer, 1, [newer]]);
    first.close();
    newer.close();
  });

  it("tells of a connection refused its id once, under the id it had, and never of the holder's id", () => {
    // A muxer's close calls the server's onClose, and so remove(), at once: the refused one
    // must be forgotten before, or its close would tell of a leave of the id the holder keeps.
    const peers = new PeerRegistry();
    const seen: string[] = [];
    const holder = registered(peers, "agent");
    peers.on("join", (_muxer, id) => seen.push(`join ${id}`));
    peers.on("leave", (muxer, id) => seen.push(`leave ${id}${muxer === holder ? " (holder)" : ""}`));
    const renamed = registered(peers, "other");
    renamed.id = "agent";
    const newcomer = served(peers, "agent");
    expect(peers.add(newcomer)).toBe(false);
    expect([renamed.closed, newcomer.closed, holder.closed, peers.get("agent"), peers.size]).toEqual([true, true, false, holder, 1]);
    expect(seen).toEqual(["join other", "leave other"]);
    holder.close();
    expect(seen).toEqual(["join other", "leave other", "leave agent (holder)"]);
  });

  it("lets any number of connections go without an id: live, counted, not found by id", () => {
    const peers = new PeerRegistry();
    const a = registered(peers), b = registered(peers);
    expect([peers.size, peers.has(""), [...peers]]).toEqual([2, false, [a, b]]);
    peers.remove(a);
    expect([...peers]).toEqual([b]);
    a.close();
    b.close();
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

  it("tells of a rename as a leave of the old id, then a join of the new one, with the registry already up to date", () => {
    const peers = new PeerRegistry();
    const seen: string[] = [];
    peers.on("leave", (muxer, id) => seen.push(`leave ${id} (now ${muxer.id}, found: ${peers.has(id)})`));
    peers.on("join", (muxer, id) => seen.push(`join ${id} (found: ${peers.get(id) === muxer})`));
    const m = registered(peers, "first");
    m.id = "second";
    peers.remove(m);
    peers.remove(m); // twice: told once
    expect(seen).toEqual(["join first (found: true)", "leave first (now second, found: false)", "join second (found: true)", "leave second (now second, found: false)"]);
    m.close();
  });

  it("tells of a replaced connection's leave before the newcomer's join", () => {
    const peers = new PeerRegistry("replace");
    const seen: string[] = [];
    const old = registered(peers, "agent");
    peers.on("leave", (muxer, id) => seen.push(`leave ${id} ${muxer === old ? "old" : "new"}`));
    peers.on("join", (muxer, id) => seen.push(`join ${id} ${muxer === old ? "old" : "new"}`));
    const newer = registered(peers, "agent");
    expect(seen).toEqual(["leave agent old", "join agent new"]);
    newer.close();
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

  it("following: the application's onIdChange hears only the renames that held, and its onClose comes after the registry forgot the muxer and after the server's own step", () => {
    const peers = new PeerRegistry();
    const heard: string[] = [];
    const options = peers.following(
      { keepalive: false, onIdChange: (mx, prev) => void heard.push(`renamed ${prev} -> ${mx.id}`), onClose: (mx) => void heard.push(`app closed ${mx.id}, live ${peers.size}`) },
      (mx) => void heard.push(`server closed ${mx.id}, live ${peers.size}`),
    );
    const a = new Muxer(createDuplexPair()[0], options);
    const b = new Muxer(createDuplexPair()[0], options);
    peers.add(a);
    peers.add(b);
    a.id = "one";
    b.id = "one"; // refused: b is closed with 1008, and the application hears no rename
    expect(heard).toEqual(["renamed  -> one", "server closed one, live 1", "app closed one, live 1"]);
    expect([peers.get("one"), b.closeDetails?.code]).toEqual([a, 1008]);
  });

  it("idFor: the id authenticate gave, or peer-<n>, unique on this registry, which isAutomaticId tells apart", () => {
    const peers = new PeerRegistry();
    const made = [peers.idFor(undefined), peers.idFor("alice"), peers.idFor(undefined)];
    expect(made).toEqual(["peer-1", "alice", "peer-2"]);
    expect(made.map(isAutomaticId)).toEqual([true, false, true]);
    expect(["", "peer-", "peer-x", "my-peer-1", "peer-1a"].map(isAutomaticId)).toEqual([false, false, false, false, false]);
  });
});

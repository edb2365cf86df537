// @bimux/bun's peer registry, as a user meets it: fixtures/bun-server.ts serves the BUILT
// @bimux/bun in Bun (servers `ids`, duplicateIds "refuse", and `replace`), and this test (in
// Node) dials it with the BUILT @bimux/node. An id names one live connection: a second
// connection with a live id is refused 409 (an id from authenticate) or closed 1008 (an id
// the application sets) while the first keeps answering, or, with "replace", takes the id
// from the older one; `peers.get(id)` reaches the peer with that id; join and leave events
// follow connections and renames. Each test uses ids of its own: the fixture lives for the file.
import { describe, expect, it } from "vitest";
import { dial, type Muxer } from "../../node/dist/index.js";
import { bytes, rejection, text } from "../../../test-support/helpers.js";
import { useBunFixture, within, type Line } from "./fixtures/bun-process.js";

const fixture = useBunFixture();
const { opened } = fixture;

type Named = "ids" | "replace";

/** The server's URL, with the id named by authenticate (`id`) or by the application in onConnection (`app`). */
const url = (server: Named, name: { id?: string; app?: string } = {}) => {
  const query = new URLSearchParams(Object.entries(name).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return `ws://127.0.0.1:${fixture.ports[server]}/mux${query.toString() ? `?${query}` : ""}`;
};

/** Dials with the built @bimux/node, answering route 8 (the server reaching it by id) with `who`; closed after the file. */
async function connect(server: Named, name: { id?: string; app?: string }, who: string): Promise<Muxer> {
  const muxer = await within(
    dial(url(server, name), { handshakeTimeout: 5000, handlers: { 8: (_route, data) => bytes(`${who} got ${text(data)}`) }, onError: () => {} }),
    10_000,
    `dial ${server} as ${who}`,
  );
  opened.push(muxer);
  return muxer;
}

/** Asks the server, through `via`, to call route 8 of the peer it finds with `peers.get(id)`. */
const reach = (via: Muxer, id: string) => within(via.rpc(21, bytes(id)), 5000, `reach ${id}`).then(text);

/** The registry's event of `server` about `id`, the `nth` one of its kind (0 is the first). */
function event(server: Named, kind: "join" | "leave" | "closed" | "renamed", id: string, nth = 0): Promise<Line> {
  let seen = 0;
  return fixture.bun.next((l) => l.event === kind && l.server === server && l.id === id && seen++ === nth);
}

/** How many lines of `kind` the fixture printed about `id` on `server`, so far. */
const count = (server: Named, kind: string, id: string) => fixture.bun.lines.filter((l) => l.event === kind && l.server === server && l.id === id).length;

/** What the registry holds, as the server's route 24 reads it. */
async function registry(via: Muxer): Promise<{ size: number; ids: string[] }> {
  return JSON.parse(text(await within(via.rpc(24, new Uint8Array(0)), 5000, "the registry"))) as { size: number; ids: string[] };
}

describe("a Bun server's peers: one live connection per id", () => {
  it("refuses a second connection with an id from authenticate that is live: 409 already_exists, and the first keeps its id and answers", async () => {
    const first = await connect("ids", { id: "r-agent" }, "first");
    await event("ids", "join", "r-agent");
    const refused = await rejection(dial(url("ids", { id: "r-agent" }), { handshakeTimeout: 5000 }));
    expect([refused.code, refused.status]).toEqual(["already_exists", 409]);
    // The server still finds the first under its id, and the first still calls it.
    const other = await connect("ids", {}, "other");
    expect(await reach(other, "r-agent")).toBe("first got r-agent");
    expect(text(await within(first.rpc(13, new Uint8Array(0)), 5000, "whoami"))).toContain('"id":"r-agent"');
    expect(first.closed).toBe(false);
    // Refused before any WebSocket existed: the registry never heard of it.
    expect(count("ids", "join", "r-agent")).toBe(1);
    expect(count("ids", "leave", "r-agent")).toBe(0);
  });

  it("closes a connection whose id the application sets to a live one with 1008, and the first keeps it", async () => {
    const first = await connect("ids", { app: "a-agent" }, "first");
    await event("ids", "join", "a-agent");
    // Upgraded (the id is only known once onConnection ran), then closed.
    const second = await connect("ids", { app: "a-agent" }, "second");
    const info = await within(second.wait(), 5000, "the newcomer's close");
    expect(info.code).toBe(1008);
    expect(info.reason).toContain("a-agent");
    const other = await connect("ids", {}, "other");
    expect(await reach(other, "a-agent")).toBe("first got a-agent");
    expect(first.closed).toBe(false);
    // The newcomer is gone from the registry, and took nothing with it.
    expect((await registry(other)).ids.filter((id) => id === "a-agent")).toEqual(["a-agent"]);
    expect(count("ids", "leave", "a-agent")).toBe(0);
  });

  it('with duplicateIds "replace", the newer connection takes the id and the older is closed with 1008', async () => {
    const older = await connect("replace", { id: "p-agent" }, "older");
    await event("replace", "join", "p-agent");
    const newer = await connect("replace", { id: "p-agent" }, "newer");
    const info = await within(older.wait(), 5000, "the older one's close");
    expect(info.code).toBe(1008);
    await event("replace", "join", "p-agent", 1);
    const other = await connect("replace", {}, "other");
    expect(await reach(other, "p-agent")).toBe("newer got p-agent");
    expect(newer.closed).toBe(false);
    // The older one's leave came before the newer one's join.
    const order = fixture.bun.lines.filter((l) => l.server === "replace" && l.id === "p-agent" && (l.event === "join" || l.event === "leave")).map((l) => l.event);
    expect(order).toEqual(["join", "leave", "join"]);
    // An id the application sets replaces as well.
    const appOlder = await connect("replace", { app: "p-app" }, "app older");
    await event("replace", "join", "p-app");
    await connect("replace", { app: "p-app" }, "app newer");
    expect((await within(appOlder.wait(), 5000, "the older app-named one's close")).code).toBe(1008);
    expect(await reach(other, "p-app")).toBe("app newer got p-app");
  });

  it("finds a peer by id with peers.get, tells of joins and leaves, follows renames, and frees the id when the peer leaves", async () => {
    const agent = await connect("ids", { id: "g-agent" }, "agent");
    expect(await event("ids", "join", "g-agent")).toMatchObject({ found: true });
    const other = await connect("ids", {}, "other");
    expect(await reach(other, "g-agent")).toBe("agent got g-agent");
    // Nobody has this id: the server's lookup finds nothing.
    expect((await rejection(other.rpc(21, bytes("nobody")))).code).toBe("not_found");

    // A rename: a leave of the old id, a join of the new one, and the lookup follows.
    expect(text(await within(agent.rpc(23, bytes("g-renamed")), 5000, "rename"))).toBe("g-renamed");
    await event("ids", "leave", "g-agent");
    expect(await event("ids", "join", "g-renamed")).toMatchObject({ found: true });
    expect(await event("ids", "renamed", "g-renamed")).toMatchObject({ previous: "g-agent" });
    expect(await reach(other, "g-renamed")).toBe("agent got g-renamed");
    expect((await rejection(other.rpc(21, bytes("g-agent")))).code).toBe("not_found");

    // A rename to a live id is refused: the renamed connection is closed with 1008, the holder keeps it.
    const holder = await connect("ids", { id: "g-held" }, "holder");
    await event("ids", "join", "g-held");
    const thief = await connect("ids", { id: "g-thief" }, "thief");
    await event("ids", "join", "g-thief");
    expect((await rejection(within(thief.rpc(23, bytes("g-held")), 5000, "the refused rename"))).code).toBe("closed");
    expect((await within(thief.wait(), 5000, "the thief's close")).code).toBe(1008);
    await event("ids", "leave", "g-thief");
    expect(await reach(other, "g-held")).toBe("holder got g-held");
    // The application heard of the renames that held only.
    expect(fixture.bun.lines.filter((l) => l.event === "renamed" && l.server === "ids" && l.previous === "g-thief")).toEqual([]);
    expect(holder.closed).toBe(false);

    // The peer leaves: a leave, the lookup finds nothing, and the id is free for the next connection.
    agent.close();
    await event("ids", "leave", "g-renamed");
    expect((await rejection(other.rpc(21, bytes("g-renamed")))).code).toBe("not_found");
    const again = await connect("ids", { id: "g-renamed" }, "again");
    await event("ids", "join", "g-renamed", 1);
    expect(await reach(other, "g-renamed")).toBe("again got g-renamed");
    again.close();
    await event("ids", "leave", "g-renamed", 1);
  });
});

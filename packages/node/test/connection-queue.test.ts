// server.connections: each new connection goes to one live consumer; an abandoned one gives up its place.
import { describe, expect, it } from "vitest";
import { ConnectionQueue, dial, Muxer } from "@bimux/node";
import { sleep, until } from "../../../test-support/helpers.js";
import { onCleanup, serveOn, start } from "./fixtures/servers.js";

describe("connection queue", () => {
  it("hands each connection to one of two consumers (the server on port 0 binds a free port and lists its live peers)", async () => {
    const s = await serveOn({ path: "/mux", authenticate: (req) => { const id = new URL(req.url!, "http://x").searchParams.get("id"); return id ? { id } : true; } });
    expect(s.port).toBeGreaterThan(0);
    const takenBy: string[] = [];
    const consume = async (name: string) => { for await (const m of s.connections) { takenBy.push(`${name}:${m.id}`); if (takenBy.length >= 2) return; } };
    const c1 = consume("A");
    const c2 = consume("B");
    const a = await dial(`ws://127.0.0.1:${s.port}/mux?id=a`, { keepalive: false });
    const b = await dial(`ws://127.0.0.1:${s.port}/mux?id=b`, { keepalive: false });
    onCleanup(() => { a.close(); b.close(); });
    await until(() => takenBy.length === 2);
    expect(takenBy.sort()).toEqual(["A:a", "B:b"]);
    expect([...s.peers].map((m) => m.id).sort()).toEqual(["a", "b"]);
    expect(s.peers.get("a")).toBeDefined();
    a.close();
    await until(() => s.peers.size === 1);
    expect(s.peers.has("a")).toBe(false);
    await Promise.race([c1, c2, sleep(10)]);
  });

  it("return() of an iteration with two pending next() calls gives up both places", async () => {
    const queue = new ConnectionQueue();
    const it1 = queue[Symbol.asyncIterator]();
    const p1 = it1.next();
    const p2 = it1.next();
    const m1 = { id: "1" } as unknown as Muxer;
    const m2 = { id: "2" } as unknown as Muxer;
    queue.push(m1);
    expect((await p1).value).toBe(m1);
    await it1.return!();
    // Settled by the time return() has: raced with an already settled "pending", which wins only if it had not.
    const pending = Promise.resolve("pending");
    expect(await Promise.race([p2, pending])).toEqual({ value: undefined, done: true });
    // The next connection goes to whoever iterates now, not to the abandoned iteration.
    queue.push(m2);
    const next = queue[Symbol.asyncIterator]().next();
    expect(await Promise.race([next, pending])).toEqual({ value: m2, done: false });
  });

  it("an abandoned iterator's return() gives up its pending next(); the next connection goes to a live consumer", async () => {
    const { server, url } = await start();
    const it1 = server.connections[Symbol.asyncIterator]();
    void it1.next(); // e.g. Promise.race([it.next(), timeout]) that timed out
    await it1.return!();
    const client = await dial(url);
    const it2 = server.connections[Symbol.asyncIterator]();
    const got = await Promise.race([it2.next(), new Promise((r) => setTimeout(() => r("none"), 300))]);
    expect(got).not.toBe("none");
    client.close();
  });
});

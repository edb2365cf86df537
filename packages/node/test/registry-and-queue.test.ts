import { describe, expect, it } from "vitest";
import type { Muxer } from "@bimux/core";
import { PeerRegistry } from "../src/peers.js";
import { ConnectionQueue } from "../src/connection-queue.js";

describe("PeerRegistry and ConnectionQueue at scale and on early return", () => {
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
});

// BunDuplex against a stand-in for Bun's ServerWebSocket, in Node: what it does with the
// members one Bun version has and another has not. The real socket is exercised in Bun by
// bun-server.test.ts.
import type { ServerWebSocket } from "bun";
import { Muxer } from "@bimux/core";
import { describe, expect, it } from "vitest";
import { BunDuplex } from "../src/bun-duplex.js";

/** A ServerWebSocket of Bun 1.3.14 to 1.4.3: no pause/resume. Records what was sent. */
function oldSocket(): { ws: ServerWebSocket<BunDuplex>; sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  const ws = {
    readyState: 1,
    sendBinary: (packet: Uint8Array) => (sent.push(packet), packet.length),
    cork: (fn: () => void) => fn(),
    getBufferedAmount: () => 0,
    close: () => {},
    ping: () => {},
    terminate: () => {},
  };
  return { ws: ws as unknown as ServerWebSocket<BunDuplex>, sent };
}

/** A one-way message frame (number, flag 2, route, data) as the peer would write it. */
function oneway(number: number, route: number, byte: number): Uint8Array {
  return new Uint8Array([0x08, number, 0x10, 2, 0x18, route, 0x22, 1, byte]);
}

describe("BunDuplex on a Bun without pause/resume", () => {
  it("one-way messages past maxConcurrent wait in memory and are all delivered in order, instead of throwing", async () => {
    const { ws } = oldSocket();
    const duplex = new BunDuplex("", undefined, new Request("http://127.0.0.1/"));
    duplex.attach(ws);
    const seen: number[] = [];
    const release: Array<() => void> = [];
    const muxer = new Muxer(duplex, {
      keepalive: false,
      maxConcurrent: 1,
      onewayHandlers: { 7: (_route, data) => new Promise<void>((resolve) => (seen.push(data[0]!), release.push(resolve))) },
    });
    for (let i = 1; i <= 3; i++) duplex.message(oneway(i, 7, i));
    // One handler runs; the other two wait (the socket could not be paused).
    expect(seen).toEqual([1]);
    for (let i = 0; i < 3; i++) {
      release.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(muxer.closed).toBe(false);
    muxer.close();
  });
});

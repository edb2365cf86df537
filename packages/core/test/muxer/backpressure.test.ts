// Backpressure: senders wait while the transport's buffer is over highWaterMark, and
// fail past maxQueuedBytes; control frames still go.
import { describe, expect, it } from "vitest";
import { decodeFrame, type Duplex, type DuplexSink, encodeFrame, EXTENSIONS_PROTOCOL, Flag, Muxer } from "@bimux/core";
import { bytes, rejection, sleep } from "../../../../test-support/helpers.js";
import { pair } from "../fixtures/muxers.js";

/** A transport whose buffer the test fills and drains by hand. */
function slowDuplex() {
  const sent: Uint8Array[] = [];
  const duplex = { buffered: 0 } as Duplex & { buffered: number };
  Object.assign(duplex, {
    open: () => {},
    send: (p: Uint8Array) => void sent.push(p),
    close: () => {},
  });
  Object.defineProperty(duplex, "bufferedAmount", { get: () => duplex.buffered });
  return { duplex, sent };
}

describe("backpressure", () => {
  it("makes senders wait while the transport is full, keeps their order, and fails past the limit", async () => {
    const { duplex, sent } = slowDuplex();
    const muxer = new Muxer(duplex, { highWaterMark: 100, maxQueuedBytes: 60, keepalive: false });
    await muxer.send(1, new Uint8Array(10)); // below the mark: resolves at once
    duplex.buffered = 150;
    let firstDone = false;
    const first = muxer.send(2, new Uint8Array(10)).then(() => (firstDone = true));
    const second = muxer.send(3, new Uint8Array(10));
    expect(muxer.bufferedAmount).toBe(150);
    duplex.buffered = 161; // past 100 + 60
    expect((await rejection(muxer.send(4, new Uint8Array(10)))).code).toBe("overloaded");
    await sleep(10);
    expect(firstDone).toBe(false);
    duplex.buffered = 0;
    await Promise.all([first, second]);
    // Everything but the refused write reached the transport, in order.
    expect(sent.map((p) => decodeFrame(p).route)).toEqual([1, 2, 3]);
  });

  it("rejects senders still waiting for the drain when the connection closes", async () => {
    const { duplex } = slowDuplex();
    const muxer = new Muxer(duplex, { highWaterMark: 0, keepalive: false });
    duplex.buffered = 1;
    const waiting = rejection(muxer.send(1, bytes("x")));
    const call = rejection(muxer.rpc(1, bytes("y")));
    muxer.close();
    expect((await waiting).code).toBe("closed");
    expect((await call).code).toBe("closed");
  });

  it("closes with 1008 a peer that keeps calling but never reads the answers", async () => {
    const { duplex } = slowDuplex();
    const sink: { current?: DuplexSink } = {};
    duplex.open = (s) => void (sink.current = s);
    const muxer = new Muxer(duplex, { highWaterMark: 0, maxQueuedBytes: 100, onRpc: () => new Uint8Array(40), keepalive: false });
    duplex.buffered = 101; // the answers it did not read
    for (let i = 1; i <= 5; i++) sink.current!.message(encodeFrame({ number: i, flag: Flag.request, route: 1, data: bytes("") }));
    const info = await muxer.wait();
    expect([info.code, info.error?.code]).toEqual([1008, "overloaded"]);
  });

  it("drops a cancel when the send buffer is over budget, and stays open: the callee still has the call's deadline", async () => {
    const sent: Uint8Array[] = [];
    let buffered = 0;
    const duplex: Duplex = {
      open: () => {},
      send: (p) => void sent.push(p),
      close: () => {},
      get bufferedAmount() {
        return buffered;
      },
      protocol: EXTENSIONS_PROTOCOL,
    };
    const muxer = new Muxer(duplex, { highWaterMark: 0, maxQueuedBytes: 30, keepalive: false, onError: () => {} });
    const call = rejection(muxer.rpc(1, new Uint8Array(10), { timeout: 20 }));
    buffered = 31;
    expect((await rejection(muxer.send(1, new Uint8Array(20)))).code).toBe("overloaded");
    expect((await call).code).toBe("timeout");
    expect(muxer.closed).toBe(false);
    // Control frames are charged like any other: the cancel is not queued past the budget.
    expect(sent.map((p) => decodeFrame(p).flag)).toEqual([Flag.request]);
    expect(decodeFrame(sent[0]!).timeout).toBe(20);
  });

  it("with highWaterMark 0, a send still resolves on an idle transport", async () => {
    const { a } = pair({ keepalive: false, highWaterMark: 0 }, { keepalive: false });
    await a.send(1, bytes("x"));
  });
});

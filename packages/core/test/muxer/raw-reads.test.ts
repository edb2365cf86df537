// readPacket and writePacket: raw messages ahead of the muxing (a handshake), and the
// messages held meanwhile, which must be neither lost nor reordered.
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, Flag, Muxer } from "@bimux/core";
import { createDuplexPair } from "@bimux/core/testing";
import { bytes, rejection, sleep, text } from "../../../../test-support/helpers.js";
import { pair } from "../fixtures/muxers.js";

describe("raw reads and writes", () => {
  it("reads and writes raw packets, ahead of the muxing", async () => {
    const { a, b } = pair({}, { onRpc: () => bytes("ok") });
    const hello = b.readPacket();
    await a.writePacket(bytes("raw hello"));
    expect(text(await hello)).toBe("raw hello");
    // With no raw reader waiting, messages go to the muxer again.
    expect(text(await a.rpc(1, bytes("")))).toBe("ok");
    const ac = new AbortController();
    const read = b.readPacket({ signal: ac.signal });
    ac.abort();
    expect((await rejection(read)).code).toBe("aborted");
    expect(text(await a.rpc(1, bytes("")))).toBe("ok");
  });

  it("gives raw messages to waiting reads in order; an aborted read gives up its place", async () => {
    const { a, b } = pair({ keepalive: false }, { keepalive: false });
    const ac = new AbortController();
    const r1 = b.readPacket({ signal: ac.signal });
    const r2 = b.readPacket();
    ac.abort();
    expect((await rejection(r1)).code).toBe("aborted");
    await a.writePacket(bytes("one"));
    expect(text(await r2)).toBe("one");
  });

  it("settles reads in the order they were made, with a signal or without", async () => {
    const [near, far] = createDuplexPair();
    far.open({ message() {}, closed() {} });
    const muxer = new Muxer(near, { keepalive: false });
    const got: string[] = [];
    const ac = new AbortController();
    const r1 = muxer.readPacket({ signal: ac.signal }).then((p) => got.push(`r1=${text(p)}`));
    const r2 = muxer.readPacket().then((p) => got.push(`r2=${text(p)}`));
    far.send(bytes("p1"));
    far.send(bytes("p2"));
    await Promise.all([r1, r2]);
    expect(got).toEqual(["r1=p1", "r2=p2"]);
    muxer.close();
  });

  it("two raw packets sent back to back can be read with two sequential readPacket calls", async () => {
    const { a, b } = pair();
    const got = (async () => {
      const first = await b.readPacket();
      const second = await b.readPacket();
      return [text(first), text(second)];
    })();
    void a.writePacket(bytes("hello"));
    void a.writePacket(bytes("world"));
    expect(await got).toEqual(["hello", "world"]);
  });

  it("writePacket refuses a packet larger than maxMessageSize, and the connection stays open", async () => {
    const { a, b } = pair({ maxMessageSize: 10, keepalive: false }, { maxMessageSize: 10, keepalive: false });
    const err = await rejection(a.writePacket(new Uint8Array(11)));
    expect(err.code).toBe("too_large");
    await sleep(5);
    expect(a.closed).toBe(false);
    expect(b.closed).toBe(false);
  });

  it("writePacket sends a packet of exactly maxMessageSize", async () => {
    const { a, b } = pair({ maxMessageSize: 10, keepalive: false }, { maxMessageSize: 10, keepalive: false });
    const read = b.readPacket();
    await a.writePacket(new Uint8Array(10));
    expect((await read).length).toBe(10);
  });
});

describe("raw reads: messages held while a read is open", () => {
  it("gives raw messages to readPacket calls in the order the calls were made", async () => {
    const [near, far] = createDuplexPair();
    far.open({ message() {}, closed() {} });
    const muxer = new Muxer(near, { keepalive: false });
    const got: string[] = [];
    const r0 = muxer.readPacket().then((p) => got.push(`r0=${text(p)}`));
    far.send(bytes("p1"));
    await r0; // p1 handed over: the hold window is open
    const r1 = muxer.readPacket().then((p) => got.push(`r1=${text(p)}`)); // waits: nothing held yet
    far.send(bytes("p2"));
    await new Promise<void>((r) => queueMicrotask(r));
    await new Promise<void>((r) => queueMicrotask(r)); // p2 delivered, while r1 waits
    const r2 = muxer.readPacket().then((p) => got.push(`r2=${text(p)}`)); // the later read
    far.send(bytes("p3"));
    await Promise.all([r1, r2]);
    expect(got).toEqual(["r0=p1", "r1=p2", "r2=p3"]);
    muxer.close();
  });

  it("a one-way message that arrived before the close, right after a raw read, is still handled", async () => {
    const [near, far] = createDuplexPair();
    far.open({ message() {}, closed() {} });
    const seen: string[] = [];
    const muxer = new Muxer(near, { keepalive: false, onOneway: (_r, d) => void seen.push(text(d)) });
    const hello = muxer.readPacket();
    far.send(bytes("hello"));                                               // raw handshake message
    far.send(encodeFrame({ number: 1, flag: Flag.oneway, route: 1, data: bytes("bye") })); // then muxed traffic
    far.close(1000, "done");                                                // then the peer closes
    expect(text(await hello)).toBe("hello");
    await muxer.wait();
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(["bye"]);
  });

  it("a reply that arrived before the close, right after a raw read, resolves its call", async () => {
    const [near, far] = createDuplexPair();
    far.open({
      message(d) {
        if (text(d as Uint8Array) === "hello?") return far.send(bytes("hello"));
        const req = decodeFrame(d as Uint8Array);
        // The peer answers the request, then hangs up at once.
        far.send(encodeFrame({ number: req.number, flag: Flag.response, route: req.route, data: bytes("answer") }));
        far.close(1000, "done");
      },
      closed() {},
    });
    const muxer = new Muxer(near, { keepalive: false });
    const hello = muxer.readPacket();
    await muxer.writePacket(bytes("hello?"));
    expect(text(await hello)).toBe("hello");
    // Right after the handshake, the first call.
    expect(text(await muxer.rpc(1, bytes("q")))).toBe("answer");
  });

  it("a request that arrived before a protocol violation is still answered after a raw read", async () => {
    const [near, far] = createDuplexPair();
    const received: Uint8Array[] = [];
    const closes: number[] = [];
    far.open({ message: (d) => received.push(d as Uint8Array), closed: (code) => closes.push(code) });
    const muxer = new Muxer(near, { onRpc: () => bytes("pong") });
    const read = muxer.readPacket();
    far.send(bytes("raw hello"));
    far.send(encodeFrame({ number: 1, flag: Flag.request, route: 1, data: bytes("ping") }));
    far.sendText("oops"); // a violation that arrives after the request
    expect(text(await read)).toBe("raw hello");
    await sleep(20);
    expect(closes).toEqual([1003]);
    // The request came first: it is answered before the close, as it was without a raw read.
    expect(received.map((r) => decodeFrame(r).flag)).toContain(Flag.response);
  });
});

describe("raw reads: close", () => {
  it("a pending read with a signal rejects before wait() resolves, as one without does", async () => {
    const [near, far] = createDuplexPair();
    far.open({ message() {}, closed() {} });
    const muxer = new Muxer(near, { keepalive: false });
    const order: string[] = [];
    muxer.readPacket({ signal: new AbortController().signal }).catch(() => order.push("read rejected"));
    muxer.wait().then(() => order.push("wait resolved"));
    muxer.close();
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(["read rejected", "wait resolved"]);
  });
});

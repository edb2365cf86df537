import { describe, expect, it } from "vitest";
import { Muxer, type Duplex, type DuplexSink } from "../src/index.js";
import { createDuplexPair } from "../src/testing.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

describe("raw reads settle in order; close reasons keep their characters", () => {
  // A read with a signal once settled a few microtasks late, after a read made after it.
  it("readPacket: reads settle in the order they were made, with or without a signal", async () => {
    const [near, far] = createDuplexPair();
    far.open({ message() {}, closed() {} });
    const muxer = new Muxer(near, { keepalive: false });
    const got: string[] = [];
    const ac = new AbortController();
    const r1 = muxer.readPacket({ signal: ac.signal }).then((p) => got.push(`r1=${str(p)}`));
    const r2 = muxer.readPacket().then((p) => got.push(`r2=${str(p)}`));
    far.send(bytes("p1"));
    far.send(bytes("p2"));
    await Promise.all([r1, r2]);
    expect(got).toEqual(["r1=p1", "r2=p2"]);
    muxer.close();
  });

  it("close reason: a reason that itself contains U+FFFD at the cut keeps it", () => {
    let sent = "";
    const duplex: Duplex = {
      open(_s: DuplexSink) {},
      send() {},
      close(_c, r) { sent = r; },
      bufferedAmount: 0,
      protocol: "",
    };
    const m = new Muxer(duplex, { keepalive: false });
    const reason = "x".repeat(117) + "\uFFFD" + "y".repeat(20); // U+FFFD fills bytes 117..119 exactly
    m.close(4000, reason);
    expect(sent).toBe("x".repeat(117) + "\uFFFD…");
  });

  it("close reason: a leading U+FEFF survives the cut", () => {
    let sent = "";
    const duplex: Duplex = { open() {}, send() {}, close(_c, r) { sent = r; }, bufferedAmount: 0, protocol: "" };
    const m = new Muxer(duplex, { keepalive: false });
    const reason = "\uFEFF" + "x".repeat(200);
    m.close(4000, reason);
    expect(sent.startsWith("\uFEFF")).toBe(true);
  });

});

describe("the close order an application sees", () => {
  // A pending read with a signal once rejected after wait() had resolved.
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

// The extensions: on only when the transport agreed on the bimux subprotocol, and
// without them exactly the Go bytes.
import { describe, expect, it } from "vitest";
import { bytes, rejection, sleep } from "../../../test-support/helpers.js";
import { extPair, extRawPeer } from "./fixtures/muxers.js";

describe("negotiation of the extensions", () => {
  it("enables the extensions only when the transport agreed on the bimux subprotocol", () => {
    expect(extPair().a.extensions).toBe(true);
    expect(extPair({}, {}, "").a.extensions).toBe(false);
  });

  it("sends exactly the Go bytes to a peer without extensions: no timeout field, no cancel", async () => {
    const { muxer, received } = extRawPeer({}, "");
    const ac = new AbortController();
    const call = rejection(muxer.rpc(1, bytes("hello"), { timeout: 5000, signal: ac.signal }));
    ac.abort();
    await call;
    await sleep(1);
    expect(received.map((r) => Buffer.from(r).toString("hex"))).toEqual(["08011801220568656c6c6f"]);
  });
});

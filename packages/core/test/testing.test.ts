// createDuplexPair, the in-memory wire the tests (and applications' tests) run on.
import { describe, expect, it } from "vitest";
import { createDuplexPair } from "@bimux/core/testing";
import { bytes, sleep, text } from "../../../test-support/helpers.js";

describe("createDuplexPair", () => {
  it("after blackhole(), nothing sent either way arrives, text included", async () => {
    const [a, b] = createDuplexPair();
    const got: unknown[] = [];
    a.open({ message: () => {}, closed: () => {} });
    b.open({ message: (d) => got.push(d), closed: () => {} });
    a.blackhole();
    a.send(bytes("x"));
    a.sendText("hello");
    await sleep(5);
    expect(got).toEqual([]);
  });

  it("drop() closes both ends with 1006, and both report the protocol they were given", async () => {
    const [a, b] = createDuplexPair({ protocol: "p" });
    expect(a.protocol).toBe("p");
    const closes: number[] = [];
    a.open({ message: () => {}, closed: (c) => closes.push(c) });
    b.open({ message: () => {}, closed: (c) => closes.push(c) });
    a.drop();
    await sleep(1);
    expect(closes).toEqual([1006, 1006]);
  });
});

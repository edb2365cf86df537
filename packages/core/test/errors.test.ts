// BimuxError: made from anything thrown, and recognised across copies of the package.
import { describe, expect, it, vi } from "vitest";
import { BimuxError } from "@bimux/core";
import { bytes } from "../../../test-support/helpers.js";
import { outcome, pair } from "./fixtures/muxers.js";

describe("BimuxError", () => {
  it("from() never throws, whatever was thrown", () => {
    const hostile = new Proxy({}, { get() { throw new Error("trap"); } });
    expect(() => BimuxError.from(hostile)).not.toThrow();
  });

  it("is recognised, code and all, when another copy of the package made it", async () => {
    // A second copy of the module, as Node gives when one import is ESM and another CJS.
    vi.resetModules();
    const other = await import("@bimux/core");
    expect(other.BimuxError).not.toBe(BimuxError);
    const foreign = new other.BimuxError("invalid_argument", "bad input");
    expect(foreign instanceof BimuxError).toBe(true);
    expect(BimuxError.from(foreign).code).toBe("invalid_argument");
    const { a } = pair({}, { onRpc: () => { throw foreign; } });
    const r = await outcome(a.rpc(1, bytes("x")));
    expect(!r.ok && [r.e.code, r.e.rawMessage]).toEqual(["invalid_argument", "bad input"]);
    expect(new Error("plain") instanceof BimuxError).toBe(false);
    class Special extends BimuxError {}
    expect(new BimuxError("internal", "x") instanceof Special).toBe(false);
    expect(new Special("internal", "x") instanceof Special).toBe(true);
  });
});

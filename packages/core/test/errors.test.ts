// BimuxError: made from anything thrown; its codes, how a refused upgrade is typed, and the close code of each.
import { describe, expect, it } from "vitest";
import { BimuxError, type ErrorCode } from "@bimux/core";
import { closeCodeFor, upgradeRefused } from "@bimux/core/transport";
import { bytes } from "../../../test-support/helpers.js";
import { outcome, pair } from "./fixtures/muxers.js";

describe("BimuxError", () => {
  it("from() never throws, whatever was thrown", () => {
    const hostile = new Proxy({}, { get() { throw new Error("trap"); } });
    expect(() => BimuxError.from(hostile)).not.toThrow();
  });

  it("a handler's BimuxError reaches the caller with its code, the familiar RPC codes included", async () => {
    for (const code of ["not_found", "already_exists", "permission_denied", "failed_precondition", "resource_exhausted"] as const) {
      const { a } = pair({}, { onRpc: () => { throw new BimuxError(code, "nope"); } });
      const r = await outcome(a.rpc(1, bytes("x")));
      expect(!r.ok && [r.e.code, r.e.remote, r.e.rawMessage]).toEqual([code, true, "nope"]);
    }
  });

  it("a refused upgrade is typed by its status, and carries it", () => {
    const cases = [[401, "unauthenticated"], [403, "permission_denied"], [409, "already_exists"], [503, "unavailable"], [404, "unavailable"]] as const;
    for (const [status, code] of cases) {
      const error = upgradeRefused("ws://x/mux", status, "why");
      expect([error.code, error.status, error.rawMessage]).toEqual([code, status, `ws://x/mux refused the upgrade: ${status} why`]);
    }
  });

  it("maps the codes that end a connection to their close codes, never to 1006, which may not be sent", () => {
    expect(["protocol", "too_large", "overloaded", "unavailable", "internal", "timeout"].map((code) => closeCodeFor(code as ErrorCode))).toEqual([1002, 1009, 1008, 1001, 1011, 1000]);
  });
});

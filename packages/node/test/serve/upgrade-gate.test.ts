// The upgrade gate's promises beyond the attacks: what a refused client is told, and what the
// authenticate hook is told when nobody waits for its verdict any more.
import { describe, expect, it } from "vitest";
import { dial, type AuthContext, type AuthResult } from "../../src/index.js";
import { rejection } from "../../../../test-support/helpers.js";
import { start } from "../servers.js";
import { eventually, upgradeStatus } from "./attackers.js";

describe("what a refused client is told", () => {
  it("only the message the application chose: a lax verdict's contents stay on the server", async () => {
    const secret = { ok: false, user: { passwordHash: "$2b$10$secret" } };
    const { url } = await start({ authenticate: () => secret as unknown as AuthResult, onError: () => {} });
    const error = await rejection(dial(url));
    expect([error.code, error.status]).toEqual(["unauthenticated", 401]);
    expect(error.rawMessage).not.toContain("passwordHash");
    const { url: other } = await start({ authenticate: () => ({ status: 403, message: "account suspended" }) });
    expect((await rejection(dial(other))).rawMessage).toContain("403 account suspended");
  });
});

describe("the authenticate hook's signal", () => {
  it("aborts when the hook outlives authenticateTimeout, and the upgrade is answered 503", async () => {
    const signals: AbortSignal[] = [];
    const { url } = await start({
      authenticateTimeout: 50,
      authenticate: (_request, { signal }: AuthContext) => {
        signals.push(signal);
        return new Promise<AuthResult>(() => {});
      },
    });
    expect(await upgradeStatus(url)).toBe(503);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
  });

  it("aborts when the client goes away before the verdict", async () => {
    const signals: AbortSignal[] = [];
    const { url } = await start({
      authenticate: (_request, { signal }: AuthContext) => {
        signals.push(signal);
        return new Promise<AuthResult>(() => {});
      },
    });
    const controller = new AbortController();
    const dialing = rejection(dial(url, { signal: controller.signal }));
    expect(await eventually(() => signals.length === 1, 2000)).toBe(true);
    expect(signals[0]!.aborted).toBe(false);
    controller.abort();
    expect((await dialing).code).toBe("aborted");
    expect(await eventually(() => signals[0]!.aborted, 2000)).toBe(true);
  });
});

// The production build (export condition `production`): the same behaviour as the others,
// with bimux's own error messages as ids and values that docs/errors.md resolves.
// It is built by `pnpm run build`, which the test command runs before vitest.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BimuxError, Muxer as SourceMuxer } from "../src/index.js";
import { createDuplexPair } from "@bimux/core/testing";
import { bytes, rejection, text } from "../../../test-support/helpers.js";
// @ts-expect-error: a plain ES module without types
import { catalog, findMessages, markdown } from "../../../scripts/messages.mjs";

const built = new URL("../dist/index.production.js", import.meta.url);
const production = (await import(built.href)) as typeof import("../src/index.js");
const { ids } = catalog() as { ids: Map<string, number> };

/** The message docs/errors.md gives for `template`, as the production build writes it with `values`. */
function expected(template: string, ...values: unknown[]): string {
  const id = ids.get(template);
  expect(id, `"${template}" is a message in the catalog`).toBeDefined();
  return `bimux error ${id}${values.length ? ` (${values.map((value) => `${value}`).join(", ")})` : ""}`;
}

describe("the production build", () => {
  it("leaves the messages' text out and keeps everything else", () => {
    const code = readFileSync(fileURLToPath(built), "utf8");
    for (const prose of ["timed out after", "route must be an int32", "no handler for route", "connection closed ("]) {
      expect(code).not.toContain(prose);
    }
    expect(code).toContain("bimux.ext.v1");
  });

  it("calls both ways with a muxer of the default build, byte for byte", async () => {
    const [near, far] = createDuplexPair();
    const page = new production.Muxer(near, { handlers: { 1: (_r, data) => bytes(`page:${text(data)}`) } });
    const server = new SourceMuxer(far, { handlers: { 2: (_r, data) => bytes(`server:${text(data)}`) } });
    expect(text(await server.rpc(1, bytes("hi")))).toBe("page:hi");
    expect(text(await page.rpc(2, bytes("ho")))).toBe("server:ho");
    page.close();
  });

  it("rejects with typed errors whose message is the catalog's id and the values", async () => {
    const [near, far] = createDuplexPair();
    const page = new production.Muxer(near, {});
    new SourceMuxer(far, { handlers: { 7: () => new Promise<Uint8Array>(() => {}) } });

    const badRoute = await rejection(page.rpc(1.5, bytes("")));
    // One error class across builds: the page's errors pass the application's instanceof.
    expect(badRoute).toBeInstanceOf(BimuxError);
    expect(badRoute.code).toBe("invalid_argument");
    expect(badRoute.rawMessage).toBe(expected("route must be an int32, got {route}", 1.5));
    expect(badRoute.message).toBe(`[invalid_argument] ${badRoute.rawMessage}`);
    // Values print as in the text: a missing route says so.
    const noRoute = await rejection(page.rpc(undefined as unknown as number, bytes("")));
    expect(noRoute.rawMessage).toBe(`bimux error ${ids.get("route must be an int32, got {route}")} (undefined)`);

    const late = await rejection(page.rpc(7, bytes(""), { timeout: 20 }));
    expect(late.code).toBe("timeout");
    expect(late.rawMessage).toBe(expected("rpc #{number} to route {route} timed out after {timeout} ms", 1, 7, 20));

    page.close(4000, "bye");
    const closed = await rejection(page.send(1, bytes("")));
    expect(closed.rawMessage).toBe(expected("{operation} on a closed connection", "send"));
  });

  it("answers the server with an error reply in the same form, under the right code", async () => {
    const [near, far] = createDuplexPair();
    new production.Muxer(near, {});
    const server = new SourceMuxer(far, {});
    const error = await rejection(server.rpc(9, bytes("")));
    expect([error.code, error.remote]).toEqual(["unimplemented", true]);
    expect(error.rawMessage).toBe(expected("no handler for route {route}", 9));
  });
});

describe("the API of every build", () => {
  // What @bimux/browser exports, and nothing of core's internals (text, checkTimeout).
  const api =
    "BimuxError,CloseCode,EXTENSIONS_PROTOCOL,Flag,Muxer,ReconnectingMuxer,decodeErrorReply,decodeFrame," +
    "dial,dialReconnecting,encodeErrorReply,encodeFrame,isErrorCode,openWebSocket,webSocketDuplex";
  const builds = {
    sources: import("../src/index.js"),
    default: import(new URL("../dist/index.js", import.meta.url).href),
    production: Promise.resolve(production),
  };
  for (const [name, build] of Object.entries(builds)) {
    it(`is the same in the ${name} build`, async () => {
      expect(Object.keys(await build).sort().join(",")).toBe(api);
    });
  }
});

describe("the message rewrite (scripts/messages.mjs)", () => {
  type Found = { shape: string; values: string[] };
  const find = (source: string) => findMessages(source, "a.ts") as Found[];

  it("keeps each value one value, a comma expression included", () => {
    expect(find("text`got ${a, b} and ${c}`;")[0]!.values).toEqual(["(a, b)", "(c)"]);
  });

  it("refuses braces in a message's text, which would make it look like another one", () => {
    expect(() => find("text`no handler for route {route}`;")).toThrow(/\{ or \}/);
  });

  it("gives every message one row of docs, whatever its text holds", () => {
    const [found] = find("text`use \\`send\\` | not\\n${x}`;");
    const row = markdown({ entries: [{ id: 1, shape: found!.shape, file: "a.ts" }] })
      .split("\n")
      .filter((line: string) => line.startsWith("| 1 "));
    expect(row).toEqual(["| 1 | use \\`send\\` \\| not\\n{x} | `a.ts` |"]);
  });
});

import { BimuxError } from "@bimux/node";
import { expect, test } from "../fixtures/test.js";

const FAILS = 1;
const BUSY = 2;
const MISSING = 3;

async function rejection(call: Promise<unknown>) {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BimuxError);
  const { code, remote, rawMessage } = error as BimuxError;
  return { isBimuxError: true, code, remote, rawMessage };
}

test("a page handler's error reaches the server as a typed remote error", async ({ startApp, openTab, build }) => {
  const app = await startApp();
  const page = await openTab(app, "faulty");
  await page.evaluate(
    async ({ FAILS, BUSY }) => {
      const { bimux, harness } = window;
      window.peer = await bimux.dial(harness.wsUrl, {
        handlers: {
          [FAILS]: (_route, data) => {
            throw new Error(`page cannot do ${harness.decode(data)}`);
          },
          [BUSY]: async () => {
            throw new bimux.BimuxError("overloaded", "page is busy");
          },
        },
      });
    },
    { FAILS, BUSY },
  );
  const peer = await app.peer("faulty");

  expect(await rejection(peer.rpc(FAILS, new TextEncoder().encode("this")))).toEqual({
    isBimuxError: true,
    code: "remote",
    remote: true,
    rawMessage: "page cannot do this",
  });
  expect(await rejection(peer.rpc(BUSY, new Uint8Array()))).toMatchObject({ code: "overloaded", remote: true, rawMessage: "page is busy" });
  // bimux's own message, in full in every build.
  expect(await rejection(peer.rpc(MISSING, new Uint8Array()))).toMatchObject({
    code: "unimplemented",
    remote: true,
    rawMessage: "no handler for route 3",
  });
  // The connection outlives its failed calls.
  expect(peer.closed).toBe(false);
});

test("a server handler's error reaches the page as a typed remote error", async ({ startApp, openTab }) => {
  const app = await startApp({
    handlers: {
      [FAILS]: (_route, data) => {
        throw new Error(`server cannot do ${new TextDecoder().decode(data)}`);
      },
      [BUSY]: () => {
        throw new BimuxError("overloaded", "server is busy");
      },
    },
  });
  const page = await openTab(app, "caller");
  const seen = await page.evaluate(
    async ({ FAILS, BUSY, MISSING }) => {
      const { bimux, harness } = window;
      window.peer = await bimux.dial(harness.wsUrl);
      const fail = (call: Promise<unknown>) => call.then(() => undefined, harness.describe);
      return {
        fails: await fail(window.peer.rpc(FAILS, harness.encode("that"))),
        busy: await fail(window.peer.rpc(BUSY, new Uint8Array())),
        missing: await fail(window.peer.rpc(MISSING, new Uint8Array())),
        stillOpen: !window.peer.closed,
      };
    },
    { FAILS, BUSY, MISSING },
  );
  expect(seen.fails).toEqual({ isBimuxError: true, code: "remote", remote: true, rawMessage: "server cannot do that" });
  expect(seen.busy).toMatchObject({ isBimuxError: true, code: "overloaded", remote: true, rawMessage: "server is busy" });
  expect(seen.missing).toMatchObject({ isBimuxError: true, code: "unimplemented", remote: true });
  expect(seen.stillOpen).toBe(true);
});

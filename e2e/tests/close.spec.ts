import { CloseCode } from "@bimux/node";
import type { ErrorShape } from "../fixtures/page-globals.js";
import { expect, test } from "../fixtures/test.js";

const HOLD = 1;
const CALLS = 100;

test("when the server closes the connection, every call the page has in flight rejects at once", async ({ startApp, openTab }) => {
  let abortedHandlers = 0;
  const app = await startApp({
    handlers: {
      // Never answers: the calls are still in flight when the connection goes.
      [HOLD]: (_route, _data, _muxer, call) =>
        new Promise((_resolve, reject) => {
          call.signal.addEventListener("abort", () => {
            abortedHandlers++;
            reject(call.signal.reason);
          });
        }),
    },
  });
  const page = await openTab(app, "waiting");
  await page.evaluate(
    async ({ HOLD, CALLS }) => {
      const { bimux, harness } = window;
      window.peer = await bimux.dial(harness.wsUrl);
      const calls = Array.from({ length: CALLS }, () =>
        window.peer.rpc(HOLD, new Uint8Array(), { timeout: 15_000 }).then(
          () => ({ at: performance.now(), error: undefined }),
          (error: unknown) => ({ at: performance.now(), error: harness.describe(error) }),
        ),
      );
      harness.scratch.settled = Promise.all(calls);
    },
    { HOLD, CALLS },
  );
  const peer = await app.peer("waiting");
  await expect.poll(() => peer.servingCalls).toBe(CALLS);

  const closedAt = Date.now();
  peer.close(CloseCode.goingAway, "maintenance");
  const { outcomes, info } = await page.evaluate(async () => ({
    outcomes: await (window.harness.scratch.settled as Promise<Array<{ at: number; error: ErrorShape | undefined }>>),
    info: await window.peer.wait(),
  }));

  // Told by the close, not by their 15 s timeouts.
  expect(Date.now() - closedAt).toBeLessThan(3_000);
  expect(outcomes).toHaveLength(CALLS);
  expect(outcomes.map((o) => o.error)).toEqual(
    outcomes.map(() => expect.objectContaining({ isBimuxError: true, code: "closed", remote: false })),
  );
  const times = outcomes.map((o) => o.at);
  expect(Math.max(...times) - Math.min(...times)).toBeLessThan(50);
  expect(info).toMatchObject({ code: CloseCode.goingAway, reason: "maintenance", initiator: "remote" });
  // The server's side of each call was told to stop too.
  expect(abortedHandlers).toBe(CALLS);
});

test("when the page closes, the server's calls to it reject at once and it hears the code", async ({ startApp, openTab }) => {
  const app = await startApp();
  const page = await openTab(app, "leaving");
  await page.evaluate(
    async ({ HOLD }) => {
      const { bimux, harness } = window;
      window.peer = await bimux.dial(harness.wsUrl, { handlers: { [HOLD]: () => new Promise(() => {}) } });
    },
    { HOLD },
  );
  const peer = await app.peer("leaving");
  const calls = Array.from({ length: CALLS }, () =>
    peer.rpc(HOLD, new Uint8Array(), { timeout: 15_000 }).then(
      () => "answered",
      (error: { code?: string }) => error.code,
    ),
  );
  await expect.poll(() => page.evaluate(() => window.peer.servingCalls)).toBe(CALLS);

  const closedAt = Date.now();
  // 1001 is a code a browser may not send itself: the page's muxer sends it as 4001.
  await page.evaluate(() => window.peer.close(1001, "tab hidden"));
  expect(await Promise.all(calls)).toEqual(calls.map(() => "closed"));
  expect(Date.now() - closedAt).toBeLessThan(3_000);
  expect(await peer.wait()).toMatchObject({ code: 4001, reason: "tab hidden", initiator: "remote" });
});

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
      // What settled, in order: each call, then the connection's wait().
      const order: string[] = [];
      harness.scratch.order = order;
      const calls = Array.from({ length: CALLS }, () =>
        window.peer.rpc(HOLD, new Uint8Array(), { timeout: 15_000 }).then(
          () => (order.push("call"), { error: undefined }),
          (error: unknown) => (order.push("call"), { error: harness.describe(error) }),
        ),
      );
      harness.scratch.settled = Promise.all(calls);
      void window.peer.wait().then(() => order.push("wait"));
    },
    { HOLD, CALLS },
  );
  const peer = await app.peer("waiting");
  await expect.poll(() => peer.servingCalls).toBe(CALLS);

  peer.close(CloseCode.goingAway, "maintenance");
  const { outcomes, info, order } = await page.evaluate(async () => ({
    outcomes: await (window.harness.scratch.settled as Promise<Array<{ error: ErrorShape | undefined }>>),
    info: await window.peer.wait(),
    order: window.harness.scratch.order as string[],
  }));

  // Told by the close, not by their 15 s timeouts: every call rejected before wait() resolved.
  expect(order).toEqual([...Array<string>(CALLS).fill("call"), "wait"]);
  expect(outcomes).toHaveLength(CALLS);
  expect(outcomes.map((o) => o.error)).toEqual(
    outcomes.map(() => expect.objectContaining({ isBimuxError: true, code: "closed", remote: false })),
  );
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
  // What settled, in order: each call (by its code), then the connection's wait().
  const order: string[] = [];
  for (let i = 0; i < CALLS; i++) {
    peer.rpc(HOLD, new Uint8Array(), { timeout: 15_000 }).then(
      () => void order.push("answered"),
      (error: { code?: string }) => void order.push(error.code ?? "?"),
    );
  }
  await expect.poll(() => page.evaluate(() => window.peer.servingCalls)).toBe(CALLS);

  const ended = peer.wait().then((info) => (order.push("wait"), info));
  // 1001 is a code a browser may not send itself: the page's muxer sends it as 4001.
  await page.evaluate(() => window.peer.close(1001, "tab hidden"));
  expect(await ended).toMatchObject({ code: 4001, reason: "tab hidden", initiator: "remote" });
  // Told by the close, not by their 15 s timeouts: every call rejected before wait() resolved.
  expect(order).toEqual([...Array<string>(CALLS).fill("closed"), "wait"]);
});

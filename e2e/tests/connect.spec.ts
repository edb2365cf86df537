import { expect, test } from "../fixtures/test.js";

test("dialing where no bimux server answers rejects with unavailable", async ({ startApp, openTab }) => {
  const app = await startApp();
  const page = await openTab(app, "lost");
  const seen = await page.evaluate(async () => {
    const { bimux, harness } = window;
    const fail = (call: Promise<unknown>) => call.then(() => undefined, harness.describe);
    return {
      // The HTTP server is there, but no WebSocket endpoint on this path.
      wrongPath: await fail(bimux.dial(`ws://${location.host}/not-bimux`)),
      aborted: await fail(bimux.dial(harness.wsUrl, { signal: AbortSignal.abort() })),
    };
  });
  expect(seen.wrongPath).toMatchObject({ isBimuxError: true, code: "unavailable", remote: false });
  expect(seen.aborted).toMatchObject({ isBimuxError: true, code: "aborted" });
});

test("the page negotiates the extensions with the Node server, and a bad frame from it ends the connection with a protocol error", async ({
  startApp,
  openTab,
}) => {
  const app = await startApp();
  const page = await openTab(app, "strict");
  const extensions = await page.evaluate(async () => {
    const { bimux, harness } = window;
    window.peer = await bimux.dial(harness.wsUrl);
    return window.peer.extensions;
  });
  const peer = await app.peer("strict");
  expect(extensions).toBe(true);
  expect(peer.extensions).toBe(true);

  // A truncated varint is no protobuf message.
  await peer.writePacket(new Uint8Array([0x08, 0xff]));
  const pageSide = await page.evaluate(async () => {
    const info = await window.peer.wait();
    return { code: info.code, initiator: info.initiator, error: info.error?.code };
  });
  expect(pageSide).toEqual({ code: 1002, initiator: "local", error: "protocol" });
  // A page may not send 1002 itself: the server hears it as 4002.
  expect(await peer.wait()).toMatchObject({ code: 4002, initiator: "remote" });
});

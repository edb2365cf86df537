import { expect, test } from "../fixtures/test.js";

test("a page with default options dials a server that takes no subprotocol, as the Go original", async ({ startApp, openTab }) => {
  // extensions: false makes the Node server answer as the Go original does: with no subprotocol.
  const app = await startApp({ extensions: false, onRpc: () => new TextEncoder().encode("pong") });
  const page = await openTab(app, "plain");
  const result = await page.evaluate(async () => {
    try {
      const muxer = await window.bimux.dial(window.harness.wsUrl);
      return { extensions: muxer.extensions, reply: window.harness.decode(await muxer.rpc(1, new Uint8Array())) };
    } catch (error) {
      return window.harness.describe(error);
    }
  });
  expect(result).toEqual({ extensions: false, reply: "pong" });
});

test("a page whose main thread is busy for 4 s is not taken for dead by a server probing every second", async ({ startApp, openTab }) => {
  const app = await startApp({ keepalive: { interval: 1000 } });
  const page = await openTab(app, "busy");
  await page.evaluate(async () => {
    window.peer = await window.bimux.dial(window.harness.wsUrl);
  });
  const peer = await app.peer("busy");
  expect(peer.extensions).toBe(true);
  await page.waitForTimeout(500);
  // A long task (heavy compute, a slow layout): the socket and the browser's network stack are fine.
  await page.evaluate(() => {
    const end = Date.now() + 4000;
    while (Date.now() < end) {
      // busy
    }
  });
  await page.waitForTimeout(2500);
  expect(peer.closeDetails).toBeUndefined();
});

test("dialReconnecting backs off and gives up at maxAttempts against a server that accepts, then closes at once", async ({ startApp, openTab }) => {
  let connections = 0;
  const app = await startApp();
  void (async () => {
    for await (const muxer of app.server.connections) {
      connections++;
      muxer.close(1008, "not allowed");
    }
  })();
  const page = await openTab(app, "refused");
  const state = await page.evaluate(async () => {
    const client = await window.bimux.dialReconnecting(window.harness.wsUrl, {
      reconnect: { initialDelay: 50, maxDelay: 1000, maxAttempts: 3 },
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return client.state;
  });
  expect(connections).toBeLessThanOrEqual(4);
  expect(state).toBe("closed");
});

test("a long close reason reaches the page cut at a character boundary", async ({ startApp, openTab }) => {
  const app = await startApp();
  const page = await openTab(app, "reason");
  await page.evaluate(async () => {
    window.peer = await window.bimux.dial(window.harness.wsUrl);
  });
  const peer = await app.peer("reason");
  const reason = "a" + "😀".repeat(60); // 241 UTF-8 bytes; UTF-16 index 40 falls inside a surrogate pair
  peer.close(4000, reason);
  const seen = await page.evaluate(async () => (await window.peer!.wait()).reason);
  expect(seen).not.toContain("\uFFFD");
  expect(reason.startsWith(seen.replace(/…$/, ""))).toBe(true);
});

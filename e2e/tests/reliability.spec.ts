import type { Socket } from "node:net";
import { expect, test } from "../fixtures/test.js";

const WHO = 1;

test("the page reconnects after the server restarts, and the server can call it again", async ({ startApp, openTab }) => {
  const first = await startApp();
  const page = await openTab(first, "agent");
  await page.evaluate(async ({ WHO }) => {
    const { bimux, harness } = window;
    const states: string[] = [];
    harness.scratch.states = states;
    let calls = 0;
    const client = await bimux.dialReconnecting(harness.wsUrl, {
      reconnect: { initialDelay: 50, maxDelay: 200 },
      handlers: { [WHO]: () => harness.encode(`page call #${++calls}`) },
      onStateChange: (state) => void states.push(state),
    });
    harness.scratch.client = client;
  }, { WHO });
  const before = await first.peer("agent");
  expect(new TextDecoder().decode(await before.rpc(WHO, new Uint8Array()))).toBe("page call #1");

  // The server goes away; while it is down the page's calls fail fast.
  const port = first.port;
  await first.close();
  await expect
    .poll(() => page.evaluate(() => (window.harness.scratch.client as { state: string }).state))
    .toBe("connecting");
  const whileDown = await page.evaluate(async () => {
    const client = window.harness.scratch.client as { rpc(route: number, data: Uint8Array): Promise<Uint8Array> };
    return client.rpc(1, new Uint8Array()).then(
      () => "resolved",
      (error: unknown) => window.harness.describe(error).code,
    );
  });
  expect(whileDown).toBe("unavailable");

  // A new server on the same port: the page comes back on its own, with its handlers.
  const second = await startApp({ onRpc: () => new TextEncoder().encode("from the second server") }, port);
  const after = await second.peer("agent");
  expect(new TextDecoder().decode(await after.rpc(WHO, new Uint8Array()))).toBe("page call #2");
  await expect.poll(() => page.evaluate(() => window.harness.scratch.states)).toEqual(["open", "connecting", "open"]);
  // And the page calls the new server through the same client object.
  const reply = await page.evaluate(async () => {
    const client = window.harness.scratch.client as { rpc(route: number, data: Uint8Array): Promise<Uint8Array>; close(): void };
    const text = window.harness.decode(await client.rpc(2, new Uint8Array()));
    client.close();
    return text;
  });
  expect(reply).toBe("from the second server");
});

test("the page notices a server that vanished without closing, and its calls reject", async ({ startApp, openTab }) => {
  const app = await startApp({ onRpc: () => new Promise<Uint8Array>(() => {}) });
  const sockets: Socket[] = [];
  app.http.on("upgrade", (_request, socket: Socket) => void sockets.push(socket));
  const page = await openTab(app, "lonely");
  const outcome = page.evaluate(async () => {
    const { bimux, harness } = window;
    const muxer = await bimux.dial(harness.wsUrl, { keepalive: { interval: 100 } });
    const call = await muxer.rpc(1, new Uint8Array(), { timeout: 60_000 }).then(
      () => "resolved",
      (error: unknown) => window.harness.describe(error).code,
    );
    const info = await muxer.wait();
    return { call, code: info.code, error: info.error?.code, extensions: muxer.extensions };
  });
  const peer = await app.peer("lonely");
  expect(peer.extensions).toBe(true);
  // The server's end stops reading and writing: no pongs, no close frame, as when a host drops off the network.
  await expect.poll(() => peer.servingCalls).toBe(1);
  for (const socket of sockets) socket.pause();
  const result = await outcome;
  // "closed", not "timeout": the keepalive ended the connection long before the call's 60 s.
  // (Within three intervals: asserted on fake time in packages/core/test/muxer/keepalive.test.ts.)
  expect(result).toMatchObject({ call: "closed", code: 1006, error: "unavailable", extensions: true });
  for (const socket of sockets) socket.destroy();
});

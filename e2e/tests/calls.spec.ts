import { expect, test } from "../fixtures/test.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

test("the server calls the page's handlers and hooks, rpc and one-way, and the page calls the server", async ({ startApp, openTab }) => {
  let pageNote!: (note: string) => void;
  const noteFromPage = new Promise<string>((resolve) => (pageNote = resolve));
  const app = await startApp({
    handlers: {
      // Adds two numbers, to show the page getting a computed answer.
      10: (_route, data) => {
        const [a, b] = JSON.parse(text(data)) as [number, number];
        return bytes(String(a + b));
      },
    },
    onOneway: (route, data) => pageNote(`${route}:${text(data)}`),
  });
  const page = await openTab(app, "tab-1");
  await page.evaluate(async () => {
    const { bimux, harness } = window;
    window.peer = await bimux.dial(harness.wsUrl, {
      handlers: { 1: (_route, data) => harness.encode(`${harness.id} got ${harness.decode(data)}`) },
      onRpc: (route) => harness.encode(`hook answered route ${route}`),
      // A one-way message from the server is answered with one the other way, to show it arrived.
      onewayHandlers: { 2: (_route, data, muxer) => muxer.send(20, harness.encode(`seen ${harness.decode(data)}`)) },
    });
  });
  const peer = await app.peer("tab-1");

  expect(text(await peer.rpc(1, bytes("ping")))).toBe("tab-1 got ping");
  expect(text(await peer.rpc(77, new Uint8Array()))).toBe("hook answered route 77");
  await peer.send(2, bytes("note"));
  expect(await noteFromPage).toBe("20:seen note");

  const sum = await page.evaluate(async () => {
    const { harness } = window;
    return harness.decode(await window.peer.rpc(10, harness.encode("[40, 2]")));
  });
  expect(sum).toBe("42");
});

test("hundreds of calls in flight in both directions at once, every reply matched to its call", async ({ startApp, openTab }) => {
  const N = 500;
  const HOLD = 5;
  // Each side holds the calls it serves until it has all N of the peer's calls and
  // has made all N of its own: no call can finish before all 2N are in flight, and
  // the number of its own calls still pending at that moment shows it (N, not fewer).
  const serverGate = gate(N);
  const app = await startApp();
  const page = await openTab(app, "busy");
  await page.evaluate(
    async ({ N, HOLD }) => {
      const { bimux, harness } = window;
      let arrived = 0;
      let issued = false;
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      let pendingWhenOpened = -1;
      const check = () => {
        if (arrived === N && issued && pendingWhenOpened < 0) {
          pendingWhenOpened = window.peer.pendingCalls;
          open();
        }
      };
      window.peer = await bimux.dial(harness.wsUrl, {
        handlers: {
          [HOLD]: async (_route, data) => {
            arrived++;
            check();
            await opened;
            return data;
          },
        },
      });
      harness.scratch.run = async () => {
        const calls = Array.from({ length: N }, (_, i) => window.peer.rpc(HOLD, harness.encode(`page ${i}`), { timeout: 15_000 }));
        issued = true;
        check();
        const replies = await Promise.all(calls);
        const wrong = replies.map((reply, i) => harness.decode(reply) === `page ${i}`).filter((ok) => !ok).length;
        return { wrong, pendingWhenOpened };
      };
    },
    { N, HOLD },
  );
  const peer = await app.peer("busy");
  peer.handle(HOLD, async (_route, data) => {
    await serverGate.arrive(() => peer.pendingCalls);
    return data;
  });

  const pageRun = page.evaluate(() => (window.harness.scratch.run as () => Promise<{ wrong: number; pendingWhenOpened: number }>)());
  const serverCalls = Array.from({ length: N }, (_, i) => peer.rpc(HOLD, bytes(`server ${i}`), { timeout: 15_000 }));
  serverGate.issued(() => peer.pendingCalls);
  const serverReplies = await Promise.all(serverCalls);

  expect(serverReplies.map(text)).toEqual(Array.from({ length: N }, (_, i) => `server ${i}`));
  expect(serverGate.pendingWhenOpened).toBe(N);
  expect(await pageRun).toEqual({ wrong: 0, pendingWhenOpened: N });
  expect(peer.pendingCalls + peer.servingCalls).toBe(0);
});

/** The server side of the both-ways gate described in the test above. */
function gate(n: number) {
  let arrived = 0;
  let issued = false;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const state = {
    pendingWhenOpened: -1,
    arrive(pending: () => number): Promise<void> {
      arrived++;
      check(pending);
      return opened;
    },
    issued(pending: () => number): void {
      issued = true;
      check(pending);
    },
  };
  const check = (pending: () => number) => {
    if (arrived === n && issued && state.pendingWhenOpened < 0) {
      state.pendingWhenOpened = pending();
      open();
    }
  };
  return state;
}

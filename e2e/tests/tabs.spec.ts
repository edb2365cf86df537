import { expect, test } from "../fixtures/test.js";

const WHO = 1;
const TABS = ["tab-a", "tab-b", "tab-c"];

test("several tabs connected at once: the server calls each by its id", async ({ startApp, openTab }) => {
  const app = await startApp();
  const pages = await Promise.all(TABS.map((id) => openTab(app, id)));
  await Promise.all(
    pages.map((page) =>
      page.evaluate(
        async ({ WHO }) => {
          const { bimux, harness } = window;
          let calls = 0;
          window.peer = await bimux.dial(harness.wsUrl, {
            handlers: { [WHO]: (_route, data) => harness.encode(`${harness.id} #${++calls}: ${harness.decode(data)}`) },
          });
        },
        { WHO },
      ),
    ),
  );
  await Promise.all(TABS.map((id) => app.peer(id)));
  expect(app.server.peers.size).toBe(TABS.length);

  for (const round of [1, 2]) {
    const answers = await Promise.all(
      TABS.map(async (id) => {
        const peer = app.server.peers.get(id);
        if (!peer) throw new Error(`no peer ${id}`);
        return new TextDecoder().decode(await peer.rpc(WHO, new TextEncoder().encode(`hello ${id}`)));
      }),
    );
    expect(answers).toEqual(TABS.map((id) => `${id} #${round}: hello ${id}`));
  }

  // Closing a tab ends its connection; the server forgets it and keeps the others.
  const leaving = app.server.peers.get("tab-b");
  await pages[1]!.close();
  expect(await leaving!.wait()).toMatchObject({ initiator: "remote" });
  expect(app.server.peers.has("tab-b")).toBe(false);
  expect(app.server.peers.size).toBe(TABS.length - 1);
  const stillThere = app.server.peers.get("tab-c");
  expect(new TextDecoder().decode(await stillThere!.rpc(WHO, new TextEncoder().encode("still there?")))).toBe(
    "tab-c #3: still there?",
  );
});

import { BimuxError } from "@bimux/node";
import { combineHandlers, createClient, serviceHandlers } from "@bimux/services";
import { Directory, Tab } from "../../packages/services/test/gen/demo/v1/tab_pb.js";
import { Greeter } from "../page/services-contract.js";
import { expect, test } from "../fixtures/test.js";

// The server serves Directory (protobuf) and Greeter (a JSON contract) on every connection.
const serverServices = combineHandlers(
  serviceHandlers(Directory, {
    lookup: ({ name }, _ctx, peer) => {
      if (name === "secret") throw new BimuxError("permission_denied", `${peer.id} may not look up ${name}`);
      return { name, id: 2n ** 53n + 1n, tags: [name, String(peer.id)] };
    },
    echo: (message) => message,
  }),
  serviceHandlers(Greeter, { greet: ({ name }) => ({ text: `hello ${name}` }) }),
);

test("the server calls the page's typed Tab and the page the server's Directory and Greeter; typed errors cross both ways", async ({
  startApp,
  openTab,
}) => {
  const app = await startApp({ ...serverServices });
  const page = await openTab(app, "typed-tab", "services");
  await page.evaluate(() => window.typedReady);

  // Server → page, protobuf: the page's title, and its not_found for a tab it does not have.
  const tab = createClient(Tab, await app.peer("typed-tab"));
  expect(await tab.getTitle({ tabId: 1 }, { timeout: 2000 })).toMatchObject({ $typeName: "demo.v1.GetTitleResponse", title: "typed tab" });
  const missing = await tab.getTitle({ tabId: 404 }).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(missing).toBeInstanceOf(BimuxError);
  expect(missing).toMatchObject({ code: "not_found", remote: true, rawMessage: "no tab 404 in this page" });
  await tab.notify({ text: "from the server" });
  await expect.poll(() => page.evaluate(() => window.typed.notes)).toEqual(["from the server"]);

  // Page → server, protobuf: an int64 past 2^53 arrives exact; the server's permission_denied reaches the page.
  expect(await page.evaluate(() => window.typed.lookup("docs"))).toEqual({ ok: true, id: String(2n ** 53n + 1n), tags: ["docs", "typed-tab"] });
  expect(await page.evaluate(() => window.typed.lookup("secret"))).toEqual({
    ok: false,
    error: { isBimuxError: true, code: "permission_denied", remote: true, rawMessage: "typed-tab may not look up secret" },
  });
  // Page → server, the JSON contract.
  expect(await page.evaluate(() => window.typed.greet("tab"))).toBe("hello tab");
});

import { startDashboardApp } from "../fixtures/dashboard.js";
import { expect, test } from "../fixtures/test.js";

test("the dashboard lists a page that dialed in, calls it, and sees it leave", async ({ context }) => {
  const app = await startDashboardApp();
  try {
    const uncaught: string[] = [];
    const agent = await context.newPage();
    agent.on("pageerror", (error) => uncaught.push(`agent: ${error.message}`));
    await agent.goto(`${app.url}agent`);
    await expect(agent.locator("#status")).toHaveText("open");

    const dashboard = await context.newPage();
    dashboard.on("pageerror", (error) => uncaught.push(`dashboard: ${error.message}`));
    await dashboard.goto(app.url);
    await expect(dashboard.locator("#status")).toHaveText("live");
    const rows = dashboard.locator("#peers tr");
    await expect(rows).toHaveCount(1);
    const id = (await rows.first().getAttribute("data-peer"))!;
    expect(app.server.peers.has(id)).toBe(true);
    await expect(rows.first().locator("td").nth(1)).toHaveText(/^127\.0\.0\.1:\d+$/);

    const call = async (route: number, data = "") => {
      await dashboard.selectOption("#peer", id);
      await dashboard.fill("#route", String(route));
      await dashboard.fill("#data", data);
      await dashboard.click("button[type=submit]");
      await expect(dashboard.locator("#result")).not.toHaveText("calling…");
      return dashboard.locator("#result");
    };
    await expect(await call(1)).toHaveText("bimux demo agent");
    await expect(await call(3, "through NAT and back")).toHaveText("through NAT and back");
    await expect(await call(2)).toHaveText("3");
    const missing = await call(9);
    await expect(missing).toHaveText(/^\[unimplemented\] /);
    await expect(missing).toHaveClass("error");
    // The agent saw the calls it answered.
    await expect(agent.locator("#counter")).toHaveText("3");
    // The refresh pings every peer: a round-trip time appears.
    await expect(rows.first().locator("td").nth(5)).toHaveText(/^\d+\.\d$/);

    await agent.close();
    await expect(rows).toHaveCount(0);
    await expect(dashboard.locator("#count")).toHaveText("0");
    expect(uncaught).toEqual([]);
  } finally {
    await app.close();
  }
});

// The dashboard story: a bimux server with its dashboard, a headless Chromium tab that
// opens the demo agent page (it dials out, as a page behind NAT does), and the server
// calling that page through the dashboard's API. Run by `npm run demo`; `--keep` leaves
// it all running to open the URLs in a browser of your own (Ctrl-C ends it).
import { createServer } from "node:http";
import { createDashboard } from "@bimux/cli";
import { serve } from "@bimux/node";
import { chromium } from "playwright-core";

const keep = process.argv.includes("--keep");
const http = createServer((req, res) => dashboard(req, res) || void res.writeHead(404).end());
const bimux = await serve({ server: http, path: "/mux" });
const dashboard = createDashboard(bimux, { muxPath: "/mux" });
await new Promise((resolve) => http.listen(keep ? 8080 : 0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${http.address().port}`;
console.log(`dashboard:   ${base}/`);
console.log(`agent page:  ${base}/agent`);
console.log(`peers API:   ${base}/api/peers   (or: npx bimux peers ${base}/)`);

// A page behind NAT: headless Chromium opens the agent page, which dials out to /mux.
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
const page = await browser.newPage();
const arrived = new Promise((resolve) => {
  const iterator = bimux.connections[Symbol.asyncIterator]();
  void iterator.next().then(({ value }) => resolve(value));
});
await page.goto(`${base}/agent`);
const peer = await arrived;
console.log(`\nthe agent page dialed in as ${peer.id}`);

// The server calls the page, through the dashboard's API as the dashboard's form does.
const call = async (route, data) => {
  const response = await fetch(`${base}/api/call`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ peer: peer.id, route, data, encoding: "utf8" }),
  });
  return response.json();
};
for (const [route, data, what] of [
  [1, "", "its title"],
  [3, "hello, page behind NAT", "echo"],
  [2, "", "its counter"],
  [9, "", "a route it does not serve"],
]) {
  const answer = await call(route, data);
  console.log(`POST /api/call route ${route} (${what}): ${answer.ok ? JSON.stringify(answer.data) : `[${answer.error.code}] ${answer.error.message}`}`);
}
const { peers } = await (await fetch(`${base}/api/peers`)).json();
console.log(`GET /api/peers: ${peers.map((p) => `${p.id} from ${p.remoteAddress}, RTT ${p.rtt?.toFixed(1)} ms`).join("; ")}`);

if (keep) {
  console.log("\nrunning until Ctrl-C");
  await new Promise((resolve) => process.once("SIGINT", resolve));
}
await browser.close();
// Shutdown order: the dashboard's streams, bimux (peers get 1001), then the HTTP server.
dashboard.close();
await bimux.close();
await new Promise((resolve) => http.close(resolve));
console.log("closed");

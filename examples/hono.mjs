// Recipe: bimux beside a Hono app on Node (@hono/node-server).
import { serve as serveHono } from "@hono/node-server";
import { Hono } from "hono";
import { dial, serve } from "@bimux/node";

const enc = (text) => new TextEncoder().encode(text);
const dec = (bytes) => new TextDecoder().decode(bytes);

const app = new Hono();
app.get("/health", (c) => c.text("ok"));
// @hono/node-server returns the Node HTTP server it made: bimux attaches to it for the upgrades on /mux.
const http = await new Promise((resolve) => {
  const server = serveHono({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(server));
});
const bimux = await serve({ server: http, path: "/mux", handlers: { 1: (_route, data) => enc(`hono got ${dec(data)}`) } });
const base = `127.0.0.1:${http.address().port}`;

console.log(`GET /health -> ${await (await fetch(`http://${base}/health`)).text()}`);
const client = await dial(`ws://${base}/mux`);
console.log(`client -> server: ${dec(await client.rpc(1, enc("ping")))}`);

await bimux.close();
await new Promise((resolve) => http.close(resolve));
console.log(`client closed: ${(await client.wait()).code}`);

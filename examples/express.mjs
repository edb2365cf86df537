// Recipe: bimux and its dashboard in an Express 5 app.
import { createServer } from "node:http";
import express from "express";
import { createDashboard } from "@bimux/cli";
import { dial, serve } from "@bimux/node";

const enc = (text) => new TextEncoder().encode(text);
const dec = (bytes) => new TextDecoder().decode(bytes);
const ADMIN_TOKEN = "admin-secret"; // from your configuration, in a real app

const app = express();
// Express serves HTTP; the WebSocket upgrades never reach it: bimux takes them from the server.
const http = createServer(app);
const bimux = await serve({ server: http, path: "/mux", handlers: { 1: (_route, data) => enc(dec(data).toUpperCase()) } });
// The dashboard as middleware, behind the app's own check: it is an admin surface.
const dashboard = createDashboard(bimux, { prefix: "/admin/bimux", authorize: (req) => req.headers.authorization === `Bearer ${ADMIN_TOKEN}` });
app.use((req, res, next) => dashboard(req, res) || next());
app.get("/health", (_req, res) => res.send("ok"));
await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
const base = `127.0.0.1:${http.address().port}`;

console.log(`GET /health -> ${await (await fetch(`http://${base}/health`)).text()}`);
const client = await dial(`ws://${base}/mux`);
console.log(`client -> server: ${dec(await client.rpc(1, enc("shout")))}`);
const anonymous = await fetch(`http://${base}/admin/bimux/api/peers`);
console.log(`GET /admin/bimux/api/peers without the token -> ${anonymous.status}`);
const { peers } = await (await fetch(`http://${base}/admin/bimux/api/peers`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
console.log(`GET /admin/bimux/api/peers -> ${peers.length} peer(s)`);

client.close();
dashboard.close();
await bimux.close();
await new Promise((resolve) => http.close(resolve));
console.log("closed");

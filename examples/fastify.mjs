// Recipe: bimux on a Fastify app's server.
import Fastify from "fastify";
import { dial, serve } from "@bimux/node";

const enc = (text) => new TextEncoder().encode(text);
const dec = (bytes) => new TextDecoder().decode(bytes);

const app = Fastify();
app.get("/health", async () => "ok");
// app.server is Fastify's Node HTTP server, there before listen: bimux takes its upgrades on /mux.
const bimux = await serve({ server: app.server, path: "/mux", handlers: { 1: (_route, data) => enc(`fastify got ${dec(data)}`) } });
// Shutdown order: Fastify's preClose runs before it closes its server, so bimux goes first.
app.addHook("preClose", async () => {
  await bimux.close();
});
await app.listen({ port: 0, host: "127.0.0.1" });
const base = `127.0.0.1:${app.server.address().port}`;

console.log(`GET /health -> ${await (await fetch(`http://${base}/health`)).text()}`);
const client = await dial(`ws://${base}/mux`);
console.log(`client -> server: ${dec(await client.rpc(1, enc("ping")))}`);
await app.close();
const closed = await client.wait();
console.log(`client closed: ${closed.code} ${closed.reason}`);

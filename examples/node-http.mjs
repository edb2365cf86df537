// Recipe: bimux on one path of a Node HTTP server that keeps serving its own routes.
import { createServer } from "node:http";
import { dial, serve } from "@bimux/node";

const enc = (text) => new TextEncoder().encode(text);
const dec = (bytes) => new TextDecoder().decode(bytes);

// The application's own routes; bimux takes only the WebSocket upgrades on /mux.
const http = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("hello from the app"));
const bimux = await serve({
  server: http,
  path: "/mux",
  handlers: { 1: (_route, data) => enc(`server got ${dec(data)}`) },
});
await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
const { port } = http.address();

console.log(`GET / -> ${await (await fetch(`http://127.0.0.1:${port}/`)).text()}`);
const client = await dial(`ws://127.0.0.1:${port}/mux`, { handlers: { 2: () => enc("client here") } });
console.log(`client -> server: ${dec(await client.rpc(1, enc("ping")))}`);
const [peer] = bimux.peers;
console.log(`server -> client: ${dec(await peer.rpc(2, new Uint8Array()))}`);

// Shutdown order: bimux first (peers are told 1001, their calls settle), then the HTTP server.
await bimux.close();
await new Promise((resolve) => http.close(resolve));
const closed = await client.wait();
console.log(`client closed: ${closed.code} ${closed.reason}`);

// Recipe: the shutdown order. Close bimux first: every peer is told 1001 (going away,
// so a reconnecting client tries again, elsewhere if it can), and every call in flight
// settles at once with `closed`. Then close the HTTP server, which bimux leaves alone
// when attached to it, and which would otherwise wait for connections that never end.
import { createServer } from "node:http";
import { dial, serve } from "@bimux/node";

const http = createServer((_req, res) => res.end("app"));
const bimux = await serve({
  server: http,
  path: "/mux",
  // A slow handler: the client's call to it is in flight when the server stops.
  handlers: { 1: (_route, _data, _muxer, { signal }) => new Promise((resolve) => signal.addEventListener("abort", () => resolve(new Uint8Array()))) },
});
await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
const client = await dial(`ws://127.0.0.1:${http.address().port}/mux`, {
  // The client is slow too: the server's call to it is in flight as well.
  handlers: { 2: () => new Promise(() => {}) },
});
const [peer] = bimux.peers;
const serverCall = peer.rpc(2, new Uint8Array(), { timeout: 60_000 }).catch((error) => error.code);
const clientCall = client.rpc(1, new Uint8Array(), { timeout: 60_000 }).catch((error) => error.code);

async function shutdown() {
  await bimux.close(); // 1: peers told 1001, calls settle
  await new Promise((resolve) => http.close(resolve)); // 2: the HTTP server stops
}
// In an app: process.once("SIGTERM", shutdown). Here, at once:
await shutdown();
console.log(`the server's call to the client: ${await serverCall}`);
console.log(`the client's call to the server: ${await clientCall}`);
const closed = await client.wait();
console.log(`the client was told: ${closed.code} ${closed.reason}`);
console.log(`http listening: ${http.listening}`);

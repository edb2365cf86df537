// Recipe: in development, the page is served by Vite and bimux runs in its own server;
// Vite's dev proxy forwards the WebSocket (ws: true), so the page dials its own origin.
// The config below is what goes into vite.config.ts; here it is passed inline.
import { createServer as createVite } from "vite";
import { dial, serve } from "@bimux/node";

const enc = (text) => new TextEncoder().encode(text);
const dec = (bytes) => new TextDecoder().decode(bytes);
const VITE_ORIGIN = "http://localhost:5173"; // where the page comes from in development

const bimux = await serve({
  host: "127.0.0.1",
  port: 0,
  path: "/mux",
  // A page on Vite's origin is cross-origin for the bimux server behind the proxy: list it.
  origins: [VITE_ORIGIN],
  handlers: { 1: (_route, data) => enc(`through the proxy: ${dec(data)}`) },
});

const vite = await createVite({
  configFile: false,
  logLevel: "silent",
  server: {
    host: "127.0.0.1",
    port: 0,
    proxy: {
      "/mux": { target: `ws://127.0.0.1:${bimux.port}`, ws: true },
    },
  },
});
await vite.listen();
const port = vite.httpServer.address().port;

// What the page does: dial its own origin's /mux (here from Node, with the page's Origin header).
const client = await dial(`ws://127.0.0.1:${port}/mux`, { headers: { origin: VITE_ORIGIN } });
console.log(dec(await client.rpc(1, enc("hello"))));
const stranger = await dial(`ws://127.0.0.1:${port}/mux`, { headers: { origin: "https://elsewhere.example" } }).catch((error) => error);
console.log(`another origin: ${stranger.code} (${stranger.status})`);

client.close();
await bimux.close();
await vite.close();
console.log("closed");

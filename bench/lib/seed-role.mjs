// The TS side of bench/seed.mjs, the Go bimux's own benchmark, one process per role,
// speaking to the orchestrator the way the Go peer's bench modes do (interop/go/peer/bench.go):
// one JSON object per line on stdout, and the end of stdin ends the process.
//
//   node seed-role.mjs front  [--timeout MS] [--maxlife S]   HTTP on 127.0.0.1:0; WebSocket upgrades
//        on /mux go to serve() (attached to the same HTTP server); every other request is a
//        GET that makes one rpc(1, empty) into the newest dialed-in muxer and answers its reply
//   node seed-role.mjs callee --url ws://…/mux               dial(); answers every request "helloworld"
//   node seed-role.mjs plain                                 HTTP answering "helloworld", no rpc: the ceiling
//   bun seed-role.mjs bun-front [--timeout MS]               the front on Bun.serve: upgrades on /mux go to
//        @bimux/bun's bunServer, every other request is a GET that makes one rpc, as above
//   bun seed-role.mjs bun-plain                              Bun.serve answering "helloworld", no rpc: the Bun ceiling
//   bun seed-role.mjs callee --url ws://…/mux --package browser   the callee in Bun, on @bimux/browser (Bun's
//        own WebSocket client); --package node (the default) dials with @bimux/node, on ws
//
// BENCH_BIMUX_NODE=/abs/path/dist/index.js benches another build of @bimux/node.
import { createServer } from "node:http";

const [mode, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 && rest[i + 1] !== undefined ? rest[i + 1] : fallback;
};
const HELLO = Buffer.from("helloworld");
const EMPTY = new Uint8Array(0);
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

// Whatever the parent does, this process ends.
setTimeout(() => {
  emit({ event: "maxlife" });
  process.exit(2);
}, Number(option("maxlife", 600)) * 1000).unref();
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();

const load = () => import(process.env.BENCH_BIMUX_NODE ?? "@bimux/node");

function listen(http) {
  http.keepAliveTimeout = 30_000;
  return new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", () => resolve(http.address().port));
  });
}

if (mode === "front") {
  const { serve } = await load();
  const timeout = Number(option("timeout", 1000)); // the original example's time.Second
  let current;
  const http = createServer((_req, res) => {
    if (!current) {
      res.writeHead(503);
      res.end();
      return;
    }
    current.rpc(1, EMPTY, { timeout }).then(
      (reply) => {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": reply.length });
        res.end(reply);
      },
      (error) => {
        res.writeHead(505);
        res.end(String(error?.message ?? error));
      },
    );
  });
  const server = await serve({ server: http, path: "/mux", onError: () => {} });
  (async () => {
    for await (const muxer of server.connections) {
      current = muxer;
      emit({ event: "accepted" });
    }
  })();
  emit({ event: "listening", port: await listen(http) });
} else if (mode === "bun-front") {
  const { bunServer } = await import("@bimux/bun");
  const timeout = Number(option("timeout", 1000));
  const headers = { "content-type": "text/plain; charset=utf-8" };
  let current;
  const bimux = bunServer({
    onError: () => {},
    onConnection: (muxer) => {
      current = muxer;
      emit({ event: "accepted" });
    },
  });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, server) {
      if (request.url.endsWith("/mux")) return bimux.upgrade(request, server);
      if (!current) return new Response(null, { status: 503 });
      return current.rpc(1, EMPTY, { timeout }).then(
        (reply) => new Response(reply, { headers }),
        (error) => new Response(String(error?.message ?? error), { status: 505 }),
      );
    },
    websocket: bimux.websocket,
  });
  emit({ event: "listening", port: server.port });
} else if (mode === "bun-plain") {
  const headers = { "content-type": "text/plain; charset=utf-8" };
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(HELLO, { headers }) });
  emit({ event: "listening", port: server.port });
} else if (mode === "callee") {
  const { dial } = option("package", "node") === "browser" ? await import("@bimux/browser") : await load();
  const muxer = await dial(option("url"), { handlers: { 1: () => HELLO }, onError: () => {} });
  emit({ event: "connect", ok: true });
  muxer.wait().then(() => process.exit(0));
} else if (mode === "plain") {
  const http = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": HELLO.length });
    res.end(HELLO);
  });
  emit({ event: "listening", port: await listen(http) });
} else {
  console.error("usage: seed-role.mjs front|callee|plain|bun-front|bun-plain [--url URL] [--package node|browser] [--timeout MS] [--maxlife S]");
  process.exit(2);
}

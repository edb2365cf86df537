// One side of one peer, in its own process: `node role.mjs server <peer>` or
// `node role.mjs client <peer> <port> [idle]`; `server <peer> - all` keeps every
// connection's remote, for `loadAll` (scaling.mjs). The orchestrator drives it over the
// fork IPC channel with {id, cmd, ...} messages and gets {id, ok, ...} back.
// It exits when told to, or as soon as the orchestrator goes away.
import { createServer } from "node:http";
import { randomFillSync } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { writeHeapSnapshot } from "node:v8";
import { peers } from "./peers.mjs";
import { runLoad } from "./load.mjs";

const [role, peerName, portArg, mode] = process.argv.slice(2);
const peer = peers[peerName];
if (!peer || (role !== "server" && role !== "client")) {
  console.error(`usage: role.mjs server|client <${Object.keys(peers).join("|")}> [port] [idle]`);
  process.exit(2);
}
process.on("disconnect", () => process.exit(0));

let server; // role server: the peer's server
let remote; // the other side's procedures: the first client (server role) or the server (client role)
const idle = []; // extra connections held open for the memory test (client role)
let front; // the HTTP front (server role)

const payloads = new Map();
function payload(size) {
  let bytes = payloads.get(size);
  if (!bytes) payloads.set(size, (bytes = randomFillSync(Buffer.alloc(size))));
  return bytes;
}

const commands = {
  async first() {
    remote = await server.first();
    return {};
  },
  async load({ inflight, durationMs, size }) {
    const body = payload(size);
    return runLoad(() => remote.call(body), { inflight, durationMs, expectLength: size });
  },
  async loadAll({ perConn, durationMs, size }) {
    // One closed loop of `perConn` calls in flight on every connection the server holds.
    const remotes = server.all();
    if (!remotes.length) throw new Error("no connection kept (server started without 'all'?)");
    const body = payload(size);
    const n = remotes.length;
    const result = await runLoad((i) => remotes[i % n].call(body), { inflight: n * perConn, durationMs, expectLength: size });
    return { ...result, connections: n };
  },
  async count() {
    return { connections: server ? server.count() : idle.length, remotes: server?.all ? server.all().length : 0 };
  },
  async http() {
    // The Go bench's HTTP front: each GET makes one rpc to the dialed-in client and
    // returns its 10-byte reply.
    front = createServer((_req, res) => {
      remote.hello().then(
        (reply) => {
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": reply.length });
          res.end(reply);
        },
        () => {
          res.writeHead(502);
          res.end();
        },
      );
    });
    front.keepAliveTimeout = 30_000;
    await new Promise((resolve) => front.listen(0, "127.0.0.1", resolve));
    return { port: front.address().port };
  },
  async idle({ connections, batch, port }) {
    // Open connections in batches so the server's accept backlog never overflows.
    for (let opened = 0; opened < connections; ) {
      const n = Math.min(batch, connections - opened);
      const made = await Promise.all(Array.from({ length: n }, () => peer.connect(port)));
      idle.push(...made);
      opened += n;
    }
    return { open: idle.length };
  },
  async mem() {
    // Several full collections, with turns of the event loop between them, so that
    // what is left is what the connections really hold.
    for (let i = 0; i < 4; i++) {
      globalThis.gc?.();
      await sleep(50);
    }
    const usage = process.memoryUsage();
    return { ...usage, connections: server ? server.count() : idle.length, gc: typeof globalThis.gc === "function" };
  },
  async cpu() {
    const { user, system } = process.cpuUsage();
    return { us: user + system };
  },
  async snapshot({ file }) {
    for (let i = 0; i < 4; i++) {
      globalThis.gc?.();
      await sleep(50);
    }
    return { file: writeHeapSnapshot(file), connections: server ? server.count() : idle.length };
  },
  async exit() {
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on("message", async (msg) => {
  const handler = commands[msg.cmd];
  try {
    if (!handler) throw new Error(`unknown command ${msg.cmd}`);
    process.send({ id: msg.id, ok: true, ...(await handler(msg)) });
  } catch (error) {
    process.send({ id: msg.id, ok: false, error: String(error?.stack ?? error) });
  }
});

if (role === "server") {
  server = await peer.serve({ keepAll: mode === "all" });
  process.send({ ready: true, port: server.port });
} else {
  if (mode !== "idle") remote = (await peer.connect(Number(portArg))).remote;
  process.send({ ready: true });
}

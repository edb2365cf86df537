// Two bimux nodes joined over NATS: a client connects to node B, and node A calls it.
// Run it with `npm run demo:cluster` (it installs nats-server with apt when it is missing).
import { spawn } from "node:child_process";
import { createServer, connect as tcpConnect } from "node:net";
import { BimuxError, dial, serve } from "@bimux/node";
import { joinCluster } from "@bimux/nats";

const enc = new TextEncoder();
const dec = new TextDecoder();
const HOSTNAME = 1;
const FIND = 2;
const SLOW = 3;
const LOG = 4;

/** Waits until `condition` holds, for 10 s at most. */
async function waitFor(condition, what) {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waited 10 s for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// 1. NATS: a real nats-server on a free loopback port.
const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, "127.0.0.1", () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const nats = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
// Whatever happens below, the server goes with the demo.
process.on("exit", () => nats.kill());
nats.on("error", (error) => {
  console.error(`could not start nats-server (${error.message}): npm run demo:cluster installs it on Debian`);
  process.exit(1);
});
for (let tries = 0; ; tries++) {
  const up = await new Promise((resolve) => {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
  if (up) break;
  if (tries > 200) throw new Error("nats-server did not start within 10 s");
  await new Promise((r) => setTimeout(r, 50));
}
console.log(`nats-server listening on nats://127.0.0.1:${port}`);

// 2. Two bimux nodes, each a server whose peers say who they are (?id=…), joined to the cluster.
async function startNode(name) {
  const server = await serve({
    host: "127.0.0.1",
    port: 0,
    path: "/mux",
    authenticate: (req) => {
      const id = new URL(req.url, "http://localhost").searchParams.get("id");
      return id ? { id } : true;
    },
  });
  const cluster = await joinCluster(server, { node: name, nats: { servers: `nats://127.0.0.1:${port}` } });
  console.log(`${name}: bimux on ws://127.0.0.1:${server.port}/mux, in the cluster`);
  return { server, cluster, url: `ws://127.0.0.1:${server.port}/mux` };
}
const a = await startNode("node-a");
const b = await startNode("node-b");
a.cluster.on("join", (p) => console.log(`node-a sees: ${p.id} joined on ${p.node}`));
a.cluster.on("leave", (p) => console.log(`node-a sees: ${p.id} left ${p.node}`));

// 3. A client connects to node B, and serves calls.
let givenUp;
const slowEnded = new Promise((resolve) => (givenUp = resolve));
const agent = await dial(`${b.url}?id=agent-1`, {
  handlers: {
    [HOSTNAME]: () => enc.encode(`agent-1 (pid ${process.pid}), connected to node-b`),
    [FIND]: (_route, data) => {
      throw new BimuxError("not_found", `no file named ${dec.decode(data)}`);
    },
    [SLOW]: (_route, _data, _muxer, ctx) =>
      new Promise((resolve) =>
        ctx.signal.addEventListener("abort", () => {
          console.log(`agent-1: the call on route ${SLOW} ends (${ctx.signal.reason.code}); the deadline that came with it: ${ctx.timeout} ms`);
          resolve(new Uint8Array());
          givenUp();
        }),
      ),
  },
  onewayHandlers: { [LOG]: (_route, data) => console.log(`agent-1 <- one-way: ${dec.decode(data)}`) },
});
await waitFor(() => a.cluster.locate("agent-1").length > 0, "node-a to see agent-1");
console.log(`node-a: peers in the cluster: ${JSON.stringify(a.cluster.peers())}`);

// 4. Node A calls the client on node B by its id.
const who = await a.cluster.rpc("agent-1", HOSTNAME, new Uint8Array(), { timeout: 1000 });
console.log(`node-a -> agent-1 rpc route ${HOSTNAME}: ${dec.decode(who)}`);
await a.cluster.peer("agent-1").send(LOG, enc.encode("hello from node-a"));
const show = async (what, call) => {
  try {
    await call();
  } catch (error) {
    console.log(`node-a -> ${what}: ${error.code}${error.remote ? " (from the peer)" : ""}: ${error.rawMessage}`);
  }
};
await show(`agent-1 rpc route ${FIND}`, () => a.cluster.rpc("agent-1", FIND, enc.encode("report.pdf")));
await show(`agent-1 rpc route ${SLOW} with a 300 ms timeout`, () => a.cluster.rpc("agent-1", SLOW, new Uint8Array(), { timeout: 300 }));
await slowEnded;
const controller = new AbortController();
const cancelled = a.cluster.rpc("agent-1", SLOW, new Uint8Array(), { signal: controller.signal });
setTimeout(() => controller.abort(), 50);
await show(`agent-1 rpc route ${SLOW}, aborted by node-a after 50 ms`, () => cancelled);
await new Promise((r) => setTimeout(r, 50));
await show("agent-1 rpc above max_payload", () => a.cluster.rpc("agent-1", HOSTNAME, new Uint8Array(a.cluster.nats.info.max_payload + 1)));
await show("agent-9 (connected nowhere)", () => a.cluster.rpc("agent-9", HOSTNAME, new Uint8Array()));

// 5. The client leaves; node A hears of it, and calls fail at once.
agent.close();
await waitFor(() => a.cluster.locate("agent-1").length === 0, "node-a to see agent-1 leave");
await show("agent-1 after it left", () => a.cluster.rpc("agent-1", HOSTNAME, new Uint8Array(), { timeout: 30_000 }));

for (const node of [a, b]) {
  await node.cluster.close();
  await node.server.close();
}
nats.kill();
console.log("done");

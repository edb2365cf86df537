// The cluster's cost and reach, on a real nats-server (Debian's, on 127.0.0.1):
//  1. a call from node A to a peer on node B over NATS, against the same call on one node
//     (the server calling its own peer), and against a bare NATS request from A answered by B
//     (the floor: no bimux), 100 in flight, 10-byte payloads: calls/s, p50, p99, CPU per call;
//  2. 3 nodes × 1,000 peers each: how long until every node lists all 3,000, and node A
//     calling every one of them (2,000 over NATS), 100 in flight.
// Every node and every client is a process of its own (child_process.fork), as in run.mjs.
// Usage: node bench/cluster.mjs [--rounds N] [--duration MS] [--peers N]   (after `pnpm run build`)
import { fork, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

const self = new URL(import.meta.url).pathname;
const enc = new TextEncoder();

/** Calls `call` with `inflight` calls always pending for `ms`; calls/s and latencies. */
async function load(call, inflight, ms) {
  const latencies = [];
  let errors = 0;
  const end = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        await call();
        latencies.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: inflight }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { rate: latencies.length / seconds, p50: q(0.5), p99: q(0.99), errors };
}

/** User + system CPU time of this process, in µs. */
function cpuMicros() {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** User + system CPU time of process `pid` (nats-server), in µs, from /proc (Linux; NaN elsewhere). */
function procMicros(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

/** Runs `fn` with up to `limit` at once over `items`. */
async function pool(items, limit, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

// ---- child roles -----------------------------------------------------------------------

/** A bimux node: serve (peers named by ?id=), join the cluster, dial `peers` clients of its own. */
async function nodeRole({ nats, name, peers }) {
  const { serve, dial } = await import("@bimux/node");
  const { joinCluster } = await import("@bimux/nats");
  const server = await serve({
    host: "127.0.0.1",
    port: 0,
    path: "/mux",
    authenticate: (req) => ({ id: new URL(req.url, "http://x").searchParams.get("id") ?? "anonymous" }),
  });
  const cluster = await joinCluster(server, { node: name, nats: { servers: nats } });
  const url = `ws://127.0.0.1:${server.port}/mux`;
  const clients = [];
  for (let i = 0; i < peers; i++) {
    clients.push(await dial(`${url}?id=${name}-p${i}`, { handlers: { 1: (_r, d) => d }, keepalive: false }));
  }
  process.on("message", async (msg) => {
    if (msg.cmd === "cpu") process.send(cpuMicros());
    if (msg.cmd === "count") process.send({ count: cluster.peers().length });
    if (msg.cmd === "call-local") {
      // The one-node baseline: the server calls its own peer.
      const peer = server.peers.get(msg.id);
      const r = await load(() => peer.rpc(1, enc.encode("0123456789"), { timeout: 10_000 }), msg.inflight, msg.ms);
      process.send(r);
    }
    if (msg.cmd === "echo-sub") {
      // The floor under a call across nodes: a bare NATS responder, no bimux on either side.
      cluster.nats.subscribe("bench.echo", { callback: (_e, m) => m.respond(m.data) });
      await cluster.nats.flush();
      process.send({ ok: true });
    }
    if (msg.cmd === "call-raw") {
      const { headers } = await import("@nats-io/transport-node");
      const r = await load(() => {
        // The same three headers as a bimux call carries.
        const h = headers();
        h.set("Bimux-Kind", "rpc");
        h.set("Bimux-Route", "1");
        h.set("Bimux-Timeout", "10000");
        return cluster.nats.request("bench.echo", enc.encode("0123456789"), { timeout: 10_000, headers: h });
      }, msg.inflight, msg.ms);
      process.send(r);
    }
    if (msg.cmd === "call-cluster") {
      const r = await load(() => cluster.rpc(msg.id, 1, enc.encode("0123456789"), { timeout: 10_000 }), msg.inflight, msg.ms);
      process.send(r);
    }
    if (msg.cmd === "reach") {
      const ids = cluster.peers().map((p) => p.id);
      let ok = 0;
      let failed = 0;
      const t = performance.now();
      await pool(ids, 100, async (id) => {
        try {
          await cluster.rpc(id, 1, enc.encode(id), { timeout: 10_000 });
          ok++;
        } catch {
          failed++;
        }
      });
      process.send({ ids: ids.length, ok, failed, seconds: (performance.now() - t) / 1000, rss: process.memoryUsage().rss });
    }
  });
  process.send({ url, rss: process.memoryUsage().rss });
}

/** One client with id `id` on `url`, echoing route 1. */
async function peerRole({ url, id }) {
  const { dial } = await import("@bimux/node");
  await dial(`${url}?id=${id}`, { handlers: { 1: (_r, d) => d }, keepalive: false });
  process.on("message", (msg) => msg.cmd === "cpu" && process.send(cpuMicros()));
  process.send({ ready: true });
}

// ---- orchestration ---------------------------------------------------------------------

function child(role, args) {
  const proc = fork(self, ["--role", role, "--args", JSON.stringify(args)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const next = () => new Promise((resolve, reject) => {
    const exited = (code) => reject(new Error(`${role} exited with ${code}`));
    proc.once("exit", exited);
    proc.once("message", (msg) => {
      proc.off("exit", exited);
      resolve(msg);
    });
  });
  return { proc, next, ask: (msg) => (proc.send(msg), next()) };
}

async function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function startNats() {
  const port = await freePort();
  const proc = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  for (let tries = 0; tries < 200; tries++) {
    const up = await new Promise((resolve) => {
      const socket = tcpConnect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (up) return { url: `nats://127.0.0.1:${port}`, proc };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("nats-server did not start");
}

async function until(condition, ms) {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, duration: { type: "string", default: "3000" }, peers: { type: "string", default: "1000" } } });
  const rounds = Number(values.rounds);
  const ms = Number(values.duration);
  const perNode = Number(values.peers);
  const loadAtStart = loadavg()[0];
  const nats = await startNats();
  const kids = [];
  try {
    // 1. Latency and throughput: A calls a peer on B (cluster), B calls its own peer (one node).
    const a = child("node", { nats: nats.url, name: "bench-a", peers: 0 });
    const b = child("node", { nats: nats.url, name: "bench-b", peers: 0 });
    kids.push(a, b);
    const [, bReady] = await Promise.all([a.next(), b.next()]);
    const p = child("peer", { url: bReady.url, id: "target" });
    kids.push(p);
    await p.next();
    await until(async () => (await a.ask({ cmd: "count" })).count === 1, 10_000);
    const results = { one: [], cluster: [], nats: [] };
    await b.ask({ cmd: "echo-sub" });
    await a.ask({ cmd: "call-cluster", id: "target", inflight: 100, ms: 500 }); // warm-up
    await b.ask({ cmd: "call-local", id: "target", inflight: 100, ms: 500 });
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? ["cluster", "nats", "one"] : ["one", "nats", "cluster"];
      for (const kind of order) {
        await new Promise((res) => setTimeout(res, 250));
        // CPU of every process on the path (A, B, the peer, nats-server), per completed call.
        const cpu = async () => [await a.ask({ cmd: "cpu" }), await b.ask({ cmd: "cpu" }), await p.ask({ cmd: "cpu" }), procMicros(nats.proc.pid)];
        const before = await cpu();
        const res =
          kind === "one"
            ? await b.ask({ cmd: "call-local", id: "target", inflight: 100, ms })
            : await a.ask({ cmd: kind === "nats" ? "call-raw" : "call-cluster", id: "target", inflight: 100, ms });
        const calls = res.rate * (ms / 1000);
        const used = (await cpu()).map((after, i) => (after - before[i]) / calls);
        res.cpuPerCall = used.reduce((x, y) => x + y, 0);
        res.cpuBy = { nodeA: used[0], nodeB: used[1], peer: used[2], nats: used[3] };
        results[kind].push(res);
        console.error(`round ${r + 1} ${kind}: ${Math.round(res.rate)} calls/s, p50 ${res.p50.toFixed(2)} ms, p99 ${res.p99.toFixed(2)} ms, CPU ${res.cpuPerCall.toFixed(1)} µs/call (A ${res.cpuBy.nodeA.toFixed(1)}, B ${res.cpuBy.nodeB.toFixed(1)}, peer ${res.cpuBy.peer.toFixed(1)}, nats-server ${res.cpuBy.nats.toFixed(1)}), errors ${res.errors}`);
      }
    }
    for (const k of kids.splice(0)) k.proc.kill();

    // 2. Reach: 3 nodes × perNode peers.
    const t0 = performance.now();
    const nodes = ["reach-a", "reach-b", "reach-c"].map((name) => child("node", { nats: nats.url, name, peers: perNode }));
    kids.push(...nodes);
    const started = await Promise.all(nodes.map((n) => n.next()));
    const connected = (performance.now() - t0) / 1000;
    await until(async () => (await Promise.all(nodes.map((n) => n.ask({ cmd: "count" })))).every((c) => c.count === 3 * perNode), 60_000);
    const converged = (performance.now() - t0) / 1000;
    const reach = await nodes[0].ask({ cmd: "reach" });
    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const summary = (xs) => ({ rate: median(xs.map((x) => x.rate)), cpuPerCall: median(xs.map((x) => x.cpuPerCall)), cpuBy: Object.fromEntries(Object.keys(xs[0].cpuBy).map((k) => [k, median(xs.map((x) => x.cpuBy[k]))])), p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)), errors: xs.reduce((s, x) => s + x.errors, 0), spread: (Math.max(...xs.map((x) => x.rate)) - Math.min(...xs.map((x) => x.rate))) / median(xs.map((x) => x.rate)) });
    const out = {
      date: new Date().toISOString(),
      cpus: cpus().length,
      load: { start: loadAtStart, end: loadavg()[0] },
      node: process.version,
      rounds,
      ms,
      one: summary(results.one),
      cluster: summary(results.cluster),
      nats: summary(results.nats),
      // connectSeconds: until every node has dialed its peers (one at a time); convergeSeconds: until every
      // node lists all of them, so the difference is how long presence lagged behind the last connection.
      reach: { nodes: 3, perNode, connectSeconds: connected, convergeSeconds: converged, ...reach, rssMiB: started.map((s) => Math.round(s.rss / 2 ** 20)) },
    };
    console.log(JSON.stringify(out, null, 2));
  } finally {
    for (const k of kids) k.proc.kill();
    nats.proc.kill();
  }
}

const { values: role } = parseArgs({ options: { role: { type: "string" }, args: { type: "string" } }, strict: false });
if (role.role === "node") await nodeRole(JSON.parse(role.args));
else if (role.role === "peer") await peerRole(JSON.parse(role.args));
else await main();

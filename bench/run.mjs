// Runs every benchmark and prints a markdown table and JSON. See README.md.
//
//   node run.mjs [--quick] [--rounds N] [--duration MS] [--peers ws,bimux,...]
//                [--skip-memory] [--skip-profile] [--memory-peers bimux,ws] [--connections N]
//
// Every server and client is its own process (child_process.fork) on 127.0.0.1; this
// process only drives them and, for the http-front scenario, runs autocannon as the
// third party. Measurements are interleaved peer by peer (ws socketio birpc bimux ws …)
// so that machine noise falls on all of them alike.
import { fork, execSync } from "node:child_process";
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import autocannon from "autocannon";
import { peers, peerNames } from "./lib/peers.mjs";
import { percentiles } from "./lib/load.mjs";
import { topSelf } from "./lib/profile.mjs";
import { control, hasTaskset, pin } from "./lib/role-process.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const ROLE = join(here, "lib", "role.mjs");
const OUT = join(here, "results");

// ------------------------------------------------------------------ options
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const quick = flag("quick");
const opts = {
  quick,
  rounds: Number(option("rounds", quick ? 1 : 3)),
  durationMs: Number(option("duration", quick ? 400 : 1500)),
  httpSeconds: Number(option("http-duration", quick ? 1 : 2)),
  warmupMs: quick ? 100 : 400,
  peers: option("peers", peerNames.join(",")).split(","),
  memory: !flag("skip-memory"),
  memoryPeers: option("memory-peers", "ws,socketio,birpc,bimux").split(","),
  connections: Number(option("connections", quick ? 1000 : 10_000)),
  profile: !flag("skip-profile"),
  // Servers on CPU 0, clients on CPU 1: without pinning, the scheduler sometimes puts
  // both on one CPU (a ping-pong is then a cheap context switch) and sometimes not (a
  // cross-CPU wake-up), which made 1-in-flight figures jump 5× between runs.
  pin: !flag("no-pin") && os.availableParallelism() >= 2 && hasTaskset(),
  profileMs: quick ? 1000 : 3000,
};
for (const p of [...opts.peers, ...opts.memoryPeers]) if (!(p in peers)) throw new Error(`unknown peer ${p}`);

const SCENARIOS = [];
for (const dir of ["s2c", "c2s"])
  for (const size of [10, 65536])
    for (const inflight of [1, 100]) SCENARIOS.push({ key: `${dir} ${inflight}×${size === 10 ? "10B" : "64KiB"}`, dir, size, inflight });
const HTTP_KEY = "http-front 100 conns";
// --only REGEX keeps the scenarios whose name matches (e.g. --only '100×10B|http').
const only = new RegExp(option("only", "."));
const scenarios = SCENARIOS.filter((s) => only.test(s.key));
const runHttp = only.test(HTTP_KEY);

// ------------------------------------------------------------------ processes
const children = new Set();
function killAll() {
  for (const child of children) child.kill("SIGKILL");
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

/** Forks a role process and resolves once it says it is ready. */
function spawn(args, execArgv = []) {
  const child = fork(ROLE, args, { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  children.add(child);
  return control(child, args, { pinned: opts.pin, onExit: () => children.delete(child) });
}

/** A server process of `peer` with one client process dialed in. */
async function startPair(peer, execArgv = []) {
  const server = spawn(["server", peer], execArgv);
  const { port } = await server.ready;
  const client = spawn(["client", peer, String(port)], execArgv);
  await client.ready;
  await server.request("first");
  return { peer, server, client, stop: () => Promise.all([client.stop(), server.stop()]) };
}

// ------------------------------------------------------------------ measuring
async function measureRpc(pair, scenario, durationMs) {
  const caller = scenario.dir === "s2c" ? pair.server : pair.client;
  // CPU time of both processes: less sensitive to other load on the machine than calls/s.
  const cpu = async () => (await Promise.all([pair.server.request("cpu"), pair.client.request("cpu")])).reduce((n, r) => n + r.us, 0);
  const cpuBefore = await cpu();
  const { calls, errors, lastError, elapsedMs, histogram } = await caller.request("load", {
    inflight: scenario.inflight,
    size: scenario.size,
    durationMs,
  });
  const cpuUs = (await cpu()) - cpuBefore;
  if (errors) console.error(`  ${pair.peer} ${scenario.key}: ${errors} errors (${lastError})`);
  return { calls, errors, elapsedMs, histogram, cpuUs };
}

async function measureHttp(pair, seconds) {
  const result = await autocannon({
    url: `http://127.0.0.1:${pair.httpPort}/`,
    connections: 100,
    duration: seconds,
    expectBody: "helloworld",
    timeout: 10,
  });
  const errors = result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0);
  if (errors) console.error(`  ${pair.peer} http-front: ${errors} errors/timeouts/non-2xx/mismatches`);
  return {
    calls: result.requests.total,
    errors,
    elapsedMs: result.duration * 1000,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

function summarize(rounds, http = false) {
  const calls = rounds.reduce((n, r) => n + r.calls, 0);
  const elapsed = rounds.reduce((n, r) => n + r.elapsedMs, 0);
  const rates = rounds.map((r) => (r.calls * 1000) / r.elapsedMs);
  let p50;
  let p99;
  if (http) {
    // autocannon gives percentiles per run, not its histogram: average them over rounds.
    p50 = rounds.reduce((n, r) => n + r.p50, 0) / rounds.length;
    p99 = rounds.reduce((n, r) => n + r.p99, 0) / rounds.length;
  } else {
    [p50, p99] = percentiles(rounds.map((r) => r.histogram), [50, 99]);
  }
  const cpuUs = rounds.reduce((n, r) => n + (r.cpuUs ?? NaN), 0);
  return {
    callsPerSec: (calls * 1000) / elapsed,
    cpuUsPerCall: cpuUs / calls,
    roundRates: rates.map(Math.round),
    p50Ms: p50,
    p99Ms: p99,
    errors: rounds.reduce((n, r) => n + r.errors, 0),
  };
}

// ------------------------------------------------------------------ memory
async function measureMemory(peer, connections) {
  const server = spawn(["server", peer], ["--expose-gc"]);
  const { port } = await server.ready;
  let client;
  try {
    const base = await server.request("mem");
    client = spawn(["client", peer, String(port), "idle"], ["--max-old-space-size=4096"]);
    await client.ready;
    const t0 = performance.now();
    await client.request("idle", { connections, batch: 250, port }, 300_000);
    const connectMs = performance.now() - t0;
    // Wait for the server to have seen them all.
    let after;
    for (let i = 0; i < 100; i++) {
      after = await server.request("mem");
      if (after.connections >= connections) break;
      await sleep(100);
    }
    await sleep(500); // let handshake garbage and timers settle before the last reading
    after = await server.request("mem");
    const mb = (n) => n / 1048576;
    return {
      peer,
      connections: after.connections,
      connectSeconds: connectMs / 1000,
      baseHeapMB: mb(base.heapUsed),
      baseRssMB: mb(base.rss),
      heapMB: mb(after.heapUsed - base.heapUsed),
      rssMB: mb(after.rss - base.rss),
      externalMB: mb(after.external - base.external),
      heapPerConnB: (after.heapUsed - base.heapUsed) / after.connections,
      rssPerConnB: (after.rss - base.rss) / after.connections,
    };
  } finally {
    await Promise.all([client?.stop(), server.stop()]);
  }
}

// ------------------------------------------------------------------ profile
async function profileBimux(ms) {
  const dir = join(OUT, "profile");
  mkdirSync(dir, { recursive: true });
  const prof = (name) => ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`, "--cpu-prof-interval=250"];
  const server = spawn(["server", "bimux"], prof("server.cpuprofile"));
  const { port } = await server.ready;
  const client = spawn(["client", "bimux", String(port)], prof("client.cpuprofile"));
  await client.ready;
  await server.request("first");
  await server.request("load", { inflight: 100, size: 10, durationMs: 500 });
  const load = await server.request("load", { inflight: 100, size: 10, durationMs: ms });
  await Promise.all([client.stop(), server.stop()]);
  return {
    scenario: "s2c 100×10B",
    callsPerSec: (load.calls * 1000) / load.elapsedMs,
    server: topSelf(join(dir, "server.cpuprofile"), 20),
    client: topSelf(join(dir, "client.cpuprofile"), 20),
    files: [join(dir, "server.cpuprofile"), join(dir, "client.cpuprofile")],
  };
}

// ------------------------------------------------------------------ report
const fmtRate = (n) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1));
const fmtMs = (n) => (n >= 10 ? n.toFixed(1) : n >= 1 ? n.toFixed(2) : n.toFixed(3));
const spread = (rates) => {
  if (rates.length < 2) return "–";
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  return `${((100 * (Math.max(...rates) - Math.min(...rates))) / mean).toFixed(0)} %`;
};
const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}×` : "–");

// Other work on the machine skews every figure; the load average says whether there was any.
const loadAtStart = os.loadavg()[0];
// Read at start: the tree may move on while the bench runs (others commit).
const gitState = (() => {
  try {
    const head = execSync("git rev-parse --short HEAD", { cwd: here }).toString().trim();
    const dirty = execSync("git status --porcelain -- ../packages/core/src ../packages/node/src", { cwd: here }).toString().trim();
    const built = process.env.BENCH_NO_BUILD ? " (--no-build: dist/ as last built)" : "";
    return `${dirty ? `${head} + uncommitted changes in packages/*/src` : head}${built}`;
  } catch {
    return "";
  }
})();
function machine() {
  const cpu = (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/) ?? [])[1] ?? os.cpus()[0]?.model;
  return { nproc: os.availableParallelism(), cpu, node: process.version, os: `${os.type()} ${os.release()}`, git: gitState, loadAtStart, loadAtEnd: os.loadavg()[0] };
}

function evaluateTargets(results, memory) {
  const get = (key, peer) => results[key]?.[peer];
  const targets = [];
  const add = (name, pass, detail) => targets.push({ name, pass, detail });
  const s = get("s2c 100×10B", "bimux");
  if (s) {
    const ws = get("s2c 100×10B", "ws");
    const io = get("s2c 100×10B", "socketio");
    if (ws) add("s2c 100 in flight 10 B ≥ 85 % of raw ws calls/s", s.callsPerSec >= 0.85 * ws.callsPerSec, `${ratio(s.callsPerSec, ws.callsPerSec)} of ws`);
    if (io) add("s2c 100 in flight 10 B ≥ 2× socket.io calls/s", s.callsPerSec >= 2 * io.callsPerSec, `${ratio(s.callsPerSec, io.callsPerSec)} socket.io`);
  }
  for (const key of SCENARIOS.filter((x) => x.size === 65536).map((x) => x.key)) {
    const b = get(key, "bimux");
    const ws = get(key, "ws");
    if (b && ws) add(`${key}: ≥ 90 % of raw ws throughput`, b.callsPerSec >= 0.9 * ws.callsPerSec, `${ratio(b.callsPerSec, ws.callsPerSec)} of ws`);
  }
  for (const key of SCENARIOS.filter((x) => x.inflight === 100).map((x) => x.key)) {
    const b = get(key, "bimux");
    const others = ["socketio", "birpc"].map((p) => [p, get(key, p)]).filter(([, r]) => r);
    if (b && others.length)
      add(
        `${key}: p99 lower than socket.io's and birpc's`,
        others.every(([, r]) => b.p99Ms < r.p99Ms),
        `bimux ${fmtMs(b.p99Ms)} ms vs ${others.map(([p, r]) => `${p} ${fmtMs(r.p99Ms)}`).join(", ")}`,
      );
  }
  const h = results[HTTP_KEY];
  if (h?.bimux) {
    const others = Object.entries(h).filter(([p]) => p !== "bimux");
    add(
      "http-front ahead of every peer",
      others.every(([, r]) => h.bimux.callsPerSec > r.callsPerSec),
      others.map(([p, r]) => `${ratio(h.bimux.callsPerSec, r.callsPerSec)} ${p}`).join(", "),
    );
  }
  const m = memory?.find((x) => x.peer === "bimux");
  if (m)
    add(
      `${m.connections.toLocaleString("en-US")} idle connections < 50 MB heap above baseline`,
      m.connections >= 10_000 ? m.heapMB < 50 : null,
      `${m.heapMB.toFixed(1)} MB heap${m.connections < 10_000 ? " (fewer than 10,000 connections: not judged)" : ""}`,
    );
  return targets;
}

function markdown(report) {
  const { results, memory, profile, targets } = report;
  const lines = [];
  lines.push(`Date ${report.date}; ${report.machine.nproc} CPUs (${report.machine.cpu}), Node ${report.machine.node}, ${report.machine.os}; bimux ${report.machine.git}; 1-min load average ${report.machine.loadAtStart.toFixed(2)} at start, ${report.machine.loadAtEnd.toFixed(2)} at end (the bench itself adds about 2).`);
  lines.push(`Rounds: ${report.options.rounds} × ${report.options.durationMs} ms per rpc measurement, ${report.options.httpSeconds} s per http-front measurement, peers interleaved; ${report.options.pin ? "rpc scenarios: server processes pinned to CPU 0, clients to CPU 1; http-front unpinned" : "no CPU pinning"}.`);
  lines.push("");
  lines.push("calls/s: completed calls per second (64 KiB: payload echoed, so each call moves 64 KiB each way). Ratios are to raw ws in the same scenario.");
  lines.push("");
  lines.push("spread: (slowest − fastest round) / mean, of calls/s: how noisy the figure is.");
  lines.push("");
  lines.push("CPU µs/call: user + system CPU time of the server and client processes together, per call (http-front: not measured).");
  lines.push("");
  lines.push("| scenario | peer | calls/s | vs ws | spread | p50 ms | vs ws | p99 ms | vs ws | CPU µs/call | vs ws | errors |");
  lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [key, byPeer] of Object.entries(results)) {
    const ws = byPeer.ws;
    for (const [peer, r] of Object.entries(byPeer)) {
      const mbs = key.includes("64KiB") ? ` (${((r.callsPerSec * 65536) / 1048576).toFixed(0)} MiB/s)` : "";
      lines.push(
        `| ${key} | ${peer} | ${fmtRate(r.callsPerSec)}${mbs} | ${ws ? ratio(r.callsPerSec, ws.callsPerSec) : "–"} | ${spread(r.roundRates)} | ${fmtMs(r.p50Ms)} | ${ws ? ratio(r.p50Ms, ws.p50Ms) : "–"} | ${fmtMs(r.p99Ms)} | ${ws ? ratio(r.p99Ms, ws.p99Ms) : "–"} | ${Number.isNaN(r.cpuUsPerCall) ? "–" : r.cpuUsPerCall.toFixed(1)} | ${ws && !Number.isNaN(r.cpuUsPerCall) ? ratio(r.cpuUsPerCall, ws.cpuUsPerCall) : "–"} | ${r.errors} |`,
      );
    }
  }
  if (memory?.length) {
    lines.push("");
    lines.push("Idle connections held by one server process (clients in another), above the server's baseline after forced GC:");
    lines.push("");
    lines.push("| peer | connections | heap MB | heap B/conn | RSS MB | RSS B/conn | external MB | baseline heap / RSS MB | connect s |");
    lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const m of memory)
      lines.push(
        `| ${m.peer} | ${m.connections.toLocaleString("en-US")} | ${m.heapMB.toFixed(1)} | ${Math.round(m.heapPerConnB).toLocaleString("en-US")} | ${m.rssMB.toFixed(1)} | ${Math.round(m.rssPerConnB).toLocaleString("en-US")} | ${m.externalMB.toFixed(1)} | ${m.baseHeapMB.toFixed(1)} / ${m.baseRssMB.toFixed(1)} | ${m.connectSeconds.toFixed(1)} |`,
      );
  }
  if (targets.length) {
    lines.push("");
    lines.push("| target | result | figures |");
    lines.push("| --- | --- | --- |");
    for (const t of targets) lines.push(`| ${t.name} | ${t.pass === null ? "not judged" : t.pass ? "PASS" : "FAIL"} | ${t.detail} |`);
  }
  if (profile) {
    for (const side of ["server", "client"]) {
      const p = profile[side];
      lines.push("");
      lines.push(`Profile, bimux ${side} (${side === "server" ? "caller" : "callee"}), ${profile.scenario} at ${fmtRate(profile.callsPerSec)} calls/s: top self time (${p.totalMs.toFixed(0)} ms sampled, ${((100 * p.idleMs) / p.totalMs).toFixed(0)} % idle).`);
      lines.push("");
      lines.push("| function | self ms | % of all | % of busy |");
      lines.push("| --- | ---: | ---: | ---: |");
      for (const r of p.rows) lines.push(`| \`${r.fn}\` | ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} | ${Number.isNaN(r.pctBusy) ? "–" : r.pctBusy.toFixed(1)} |`);
    }
  }
  return lines.join("\n");
}

// ------------------------------------------------------------------ main
// Each round starts with a different peer, so that no peer always follows the same
// one: a peer's processes keep working for a while after its turn (concurrent
// collection, sweeping, compilation) on the CPUs the next peer is pinned to.
function rotate(pairs, round) {
  return pairs.map((_, i) => pairs[(i + round) % pairs.length]);
}

/** A pause before each measurement, for that background work of the last one to finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, quick ? 50 : 250));

async function main() {
  mkdirSync(OUT, { recursive: true });
  const started = performance.now();
  console.error(`bench: peers ${opts.peers.join(", ")}; ${opts.rounds} round(s) of ${opts.durationMs} ms${quick ? " (quick)" : ""}`);
  const pairs = [];
  const results = {};
  let memory = [];
  let profile;
  try {
    for (const peer of opts.peers) {
      const pair = await startPair(peer);
      pair.httpPort = (await pair.server.request("http")).port;
      pairs.push(pair);
    }
    // Warm-up: every code path of every peer once, so the JIT has seen them.
    for (const pair of pairs) {
      for (const scenario of scenarios) await measureRpc(pair, scenario, opts.warmupMs);
      if (runHttp) await measureHttp(pair, 1);
    }
    const raw = {};
    for (const scenario of scenarios) {
      raw[scenario.key] = {};
      for (let round = 0; round < opts.rounds; round++)
        for (const pair of rotate(pairs, round)) {
          await settle();
          (raw[scenario.key][pair.peer] ??= []).push(await measureRpc(pair, scenario, opts.durationMs));
        }
      results[scenario.key] = Object.fromEntries(Object.entries(raw[scenario.key]).map(([p, rs]) => [p, summarize(rs)]));
      console.error(`  ${scenario.key}: ${Object.entries(results[scenario.key]).map(([p, r]) => `${p} ${fmtRate(r.callsPerSec)}/s`).join(", ")}`);
    }
    // http-front has three busy processes (autocannon, server, client) on what may be two
    // CPUs: let the scheduler place them, as pinning two of them starves the third.
    if (runHttp && opts.pin) for (const pair of pairs) for (const side of [pair.server, pair.client]) pin(side.child, `0-${os.availableParallelism() - 1}`);
    if (runHttp) raw[HTTP_KEY] = {};
    for (let round = 0; runHttp && round < opts.rounds; round++)
      for (const pair of rotate(pairs, round)) {
        await settle();
        (raw[HTTP_KEY][pair.peer] ??= []).push(await measureHttp(pair, opts.httpSeconds));
      }
    if (runHttp) results[HTTP_KEY] = Object.fromEntries(Object.entries(raw[HTTP_KEY]).map(([p, rs]) => [p, summarize(rs, true)]));
    if (runHttp) console.error(`  ${HTTP_KEY}: ${Object.entries(results[HTTP_KEY]).map(([p, r]) => `${p} ${fmtRate(r.callsPerSec)}/s`).join(", ")}`);
  } finally {
    await Promise.all(pairs.map((p) => p.stop()));
  }
  if (opts.memory) {
    for (const peer of opts.memoryPeers) {
      const m = await measureMemory(peer, opts.connections);
      console.error(`  memory ${peer}: ${m.connections} connections, heap +${m.heapMB.toFixed(1)} MB, rss +${m.rssMB.toFixed(1)} MB`);
      memory.push(m);
    }
  }
  if (opts.profile) profile = await profileBimux(opts.profileMs);

  const report = {
    date: new Date().toISOString(),
    command: `pnpm bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`,
    machine: machine(),
    options: opts,
    results,
    memory,
    profile,
    seconds: (performance.now() - started) / 1000,
  };
  report.targets = evaluateTargets(results, memory);
  const md = markdown(report);
  writeFileSync(join(OUT, "latest.md"), `${md}\n`);
  writeFileSync(join(OUT, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  console.log(md);
  console.log("");
  console.log("```json");
  console.log(JSON.stringify({ ...report, profile: profile && { ...profile, server: profile.server.rows.slice(0, 10), client: profile.client.rows.slice(0, 10) } }, null, 2));
  console.log("```");
  console.error(`bench: done in ${report.seconds.toFixed(0)} s; results/latest.md and results/latest.json written`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

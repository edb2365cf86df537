// Scaling curves: calls/s and latency of server → client calls of 10 B
//   - against calls in flight on one connection: 1, 10, 100, 1,000;
//   - against connections, each with one call in flight: 1, 100, 10,000
//     (the server calls every client connection in its own closed loop).
// bimux and raw ws (the floor) by default; rounds interleaved as in run.mjs.
//
//   node scaling.mjs [--rounds N] [--duration MS] [--peers bimux,ws] [--inflight 1,10,100,1000]
//                    [--conns 1,100,10000] [--size 10] [--no-pin] [--cpu-prof [--cpu-prof-interval US]] [--out NAME]
//
// Run it through run.sh (`bash bench/run.sh scaling.mjs …`) or not: each role process
// raises its own open-file limit to the hard limit (10,000 connections need 10,000
// descriptors in the server and in the client). Writes results/NAME.json (default
// scaling) for charts.mjs, and prints a markdown table.
import { spawn, execSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync, readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { percentiles } from "./lib/load.mjs";
import { topSelf } from "./lib/profile.mjs";
import { control, hasTaskset } from "./lib/role-process.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const ROLE = join(here, "lib", "role.mjs");
const OUT = join(here, "results");

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const list = (text) => text.split(",").filter(Boolean).map(Number);
const opts = {
  rounds: Number(option("rounds", 3)),
  durationMs: Number(option("duration", 1500)),
  peers: option("peers", "bimux,ws").split(","),
  inflight: list(option("inflight", "1,10,100,1000")),
  conns: list(option("conns", "1,100,10000")),
  size: Number(option("size", 10)),
  pin: !flag("no-pin") && os.availableParallelism() >= 2 && hasTaskset(),
  out: option("out", "scaling"),
  // Profiles every role process (results/profile/scaling-PEER-ROLE-N.cpuprofile) and lists
  // the top self time of each, over its whole life: best with one point (--inflight 1 --conns '').
  cpuProf: flag("cpu-prof"),
  // Sampling interval of those profiles, in µs: finer (100) to tell apart the small costs of a lone call.
  cpuProfInterval: Number(option("cpu-prof-interval", 250)),
};
let profiled = 0;
const profiles = [];
const budgetS = Math.ceil(
  120 + opts.peers.length * ((opts.inflight.length + opts.conns.length) * (opts.rounds * (opts.durationMs / 1000 + 1) + 2) + opts.conns.reduce((n, c) => n + c / 2000, 0)),
);
setTimeout(() => {
  console.error(`scaling: over the ${budgetS} s budget, killing everything`);
  process.exit(3);
}, budgetS * 1000).unref();

// ------------------------------------------------------------------ processes
const children = new Set();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

/**
 * A role process (lib/role.mjs), driven over IPC like run.mjs's. Started through sh so
 * that it raises its own open-file limit first; `exec` keeps the pid and the IPC channel.
 */
function spawnRole(args) {
  const prof = [];
  if (opts.cpuProf) {
    const name = `scaling-${args[1]}-${args[0]}-${++profiled}.cpuprofile`;
    prof.push("--cpu-prof", `--cpu-prof-dir=${join(OUT, "profile")}`, `--cpu-prof-name=${name}`, `--cpu-prof-interval=${opts.cpuProfInterval}`);
    profiles.push({ peer: args[1], role: args[0], file: join(OUT, "profile", name) });
  }
  const child = spawn("/bin/sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", process.execPath, "--max-old-space-size=4096", ...prof, ROLE, ...args], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  // As run.mjs: servers on CPU 0, clients on CPU 1.
  return control(child, args, { pinned: opts.pin, onExit: () => children.delete(child) });
}

/** A server of `peer` keeping every connection, and one client process holding `conns` of them. */
async function startSet(peer, conns) {
  const server = spawnRole(["server", peer, "-", "all"]);
  const { port } = await server.ready;
  const client = spawnRole(["client", peer, String(port), "idle"]);
  await client.ready;
  const t0 = performance.now();
  await client.request("idle", { connections: conns, batch: 250, port }, 300_000);
  for (let i = 0; ; i++) {
    const { remotes } = await server.request("count");
    if (remotes >= conns) break;
    if (i > 300) throw new Error(`${peer}: the server kept ${remotes} of ${conns} connections`);
    await sleep(100);
  }
  await server.request("first"); // the remote that `load` (the in-flight curve) calls
  return { peer, server, client, connectS: (performance.now() - t0) / 1000, stop: () => Promise.all([client.stop(), server.stop()]) };
}

async function measure(set, kind, x, durationMs) {
  const cpu = async () => (await Promise.all([set.server.request("cpu"), set.client.request("cpu")])).reduce((n, r) => n + r.us, 0);
  const before = await cpu();
  const params = { size: opts.size, durationMs };
  const r = kind === "inflight" ? await set.server.request("load", { ...params, inflight: x }) : await set.server.request("loadAll", { ...params, perConn: 1 }, 600_000);
  const cpuUs = (await cpu()) - before;
  if (r.errors) console.error(`  ${set.peer} ${kind} ${x}: ${r.errors} errors (${r.lastError})`);
  return { calls: r.calls, errors: r.errors, elapsedMs: r.elapsedMs, histogram: r.histogram, cpuUs };
}

function summarize(rounds) {
  const calls = rounds.reduce((n, r) => n + r.calls, 0);
  const elapsed = rounds.reduce((n, r) => n + r.elapsedMs, 0);
  const [p50Ms, p99Ms] = percentiles(rounds.map((r) => r.histogram), [50, 99]);
  return {
    callsPerSec: (calls * 1000) / elapsed,
    roundRates: rounds.map((r) => Math.round((r.calls * 1000) / r.elapsedMs)),
    p50Ms,
    p99Ms,
    cpuUsPerCall: rounds.reduce((n, r) => n + r.cpuUs, 0) / calls,
    errors: rounds.reduce((n, r) => n + r.errors, 0),
  };
}

const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length]);

/** One point of a curve: the sets (one per peer) measured in interleaved rounds. */
async function point(sets, kind, x) {
  // Warm-up: a short run of the same load, so the JIT has seen it.
  for (const set of sets) await measure(set, kind, x, Math.min(500, opts.durationMs));
  const raw = {};
  for (let round = 0; round < opts.rounds; round++)
    for (const set of rotate(sets, round)) {
      await sleep(250);
      (raw[set.peer] ??= []).push(await measure(set, kind, x, opts.durationMs));
    }
  const out = Object.fromEntries(Object.entries(raw).map(([p, rs]) => [p, { x, ...summarize(rs) }]));
  console.error(`  ${kind} ${x}: ${Object.entries(out).map(([p, r]) => `${p} ${Math.round(r.callsPerSec).toLocaleString("en-US")}/s p99 ${r.p99Ms.toFixed(2)} ms`).join(", ")}`);
  return out;
}

// ------------------------------------------------------------------ report
const fmtRate = (n) => Math.round(n).toLocaleString("en-US");
const fmtMs = (n) => (n >= 10 ? n.toFixed(1) : n >= 1 ? n.toFixed(2) : n.toFixed(3));

function markdown(report) {
  const lines = [];
  const m = report.machine;
  lines.push(`Date ${report.date}; ${m.nproc} CPUs (${m.cpu}), Node ${m.node}; bimux ${m.git}; 1-min load average ${m.loadAtStart.toFixed(2)} at start, ${m.loadAtEnd.toFixed(2)} at end.`);
  lines.push(`Server → client calls of ${opts.size} B; ${opts.rounds} rounds × ${opts.durationMs} ms per point, peers interleaved; ${opts.pin ? "servers pinned to CPU 0, clients to CPU 1" : "no CPU pinning"}.`);
  for (const [kind, title] of [["inflight", "calls in flight on one connection"], ["connections", "connections, one call in flight on each"]]) {
    const curve = report.curves[kind];
    if (!curve || !Object.keys(curve).length) continue;
    const peers = Object.keys(curve);
    const xs = curve[peers[0]].map((r) => r.x);
    lines.push("");
    lines.push(`| ${title} | ${peers.map((p) => `${p} calls/s | ${p} p50 ms | ${p} p99 ms | ${p} CPU µs/call`).join(" | ")}${peers.includes("ws") && peers.includes("bimux") ? " | bimux/ws calls/s" : ""} |`);
    lines.push(`| ---: | ${peers.map(() => "---: | ---: | ---: | ---:").join(" | ")}${peers.includes("ws") && peers.includes("bimux") ? " | ---:" : ""} |`);
    xs.forEach((x, i) => {
      const cells = peers.map((p) => {
        const r = curve[p][i];
        return `${fmtRate(r.callsPerSec)}${r.errors ? ` (${r.errors} errors)` : ""} | ${fmtMs(r.p50Ms)} | ${fmtMs(r.p99Ms)} | ${r.cpuUsPerCall.toFixed(1)}`;
      });
      const ratio = peers.includes("ws") && peers.includes("bimux") ? ` | ${(curve.bimux[i].callsPerSec / curve.ws[i].callsPerSec).toFixed(2)}×` : "";
      lines.push(`| ${x.toLocaleString("en-US")} | ${cells.join(" | ")}${ratio} |`);
    });
  }
  return lines.join("\n");
}

function gitState() {
  try {
    const head = execSync("git rev-parse --short HEAD", { cwd: here }).toString().trim();
    const dirty = execSync("git status --porcelain -- ../packages/core/src ../packages/node/src", { cwd: here }).toString().trim();
    return dirty ? `${head} + uncommitted changes in packages/*/src` : head;
  } catch {
    return "";
  }
}

async function main() {
  mkdirSync(join(OUT, "profile"), { recursive: true });
  const loadAtStart = os.loadavg()[0];
  const git = gitState();
  console.error(`scaling: peers ${opts.peers.join(", ")}; in flight ${opts.inflight.join(", ")}; connections ${opts.conns.join(", ")}; ${opts.rounds} round(s) of ${opts.durationMs} ms; budget ${budgetS} s`);
  const curves = { inflight: {}, connections: {} };
  const connectSeconds = {};
  const add = (kind, byPeer) => {
    for (const [p, r] of Object.entries(byPeer)) (curves[kind][p] ??= []).push(r);
  };
  // In flight: one connection per peer for the whole curve.
  if (opts.inflight.length) {
    const sets = [];
    try {
      for (const peer of opts.peers) sets.push(await startSet(peer, 1));
      for (const x of opts.inflight) add("inflight", await point(sets, "inflight", x));
    } finally {
      await Promise.all(sets.map((s) => s.stop()));
    }
  }
  // Connections: fresh processes per point, all peers' sets open at once.
  for (const n of opts.conns) {
    const sets = [];
    try {
      for (const peer of opts.peers) {
        const set = await startSet(peer, n);
        (connectSeconds[peer] ??= {})[n] = set.connectS;
        sets.push(set);
      }
      add("connections", await point(sets, "connections", n));
    } finally {
      await Promise.all(sets.map((s) => s.stop()));
    }
  }
  const report = {
    date: new Date().toISOString(),
    command: `node bench/scaling.mjs ${argv.join(" ")}`.trim(),
    machine: {
      nproc: os.availableParallelism(),
      cpu: (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/) ?? [])[1],
      node: process.version,
      git,
      loadAtStart,
      loadAtEnd: os.loadavg()[0],
    },
    options: opts,
    curves,
    connectSeconds,
  };
  let md = markdown(report);
  for (const p of profiles.filter((x) => existsSync(x.file))) {
    const t = topSelf(p.file, 15);
    md += `\n\nProfile, ${p.peer} ${p.role} (${p.file.split("/").pop()}): ${t.totalMs.toFixed(0)} ms sampled, ${((100 * t.idleMs) / t.totalMs).toFixed(0)} % idle.\n\n| function | self ms | % of busy |\n| --- | ---: | ---: |\n`;
    md += t.rows.map((r) => `| \`${r.fn}\` | ${r.ms.toFixed(0)} | ${Number.isNaN(r.pctBusy) ? "–" : r.pctBusy.toFixed(1)} |`).join("\n");
  }
  writeFileSync(join(OUT, `${opts.out}.md`), `${md}\n`);
  writeFileSync(join(OUT, `${opts.out}.json`), `${JSON.stringify(report, null, 2)}\n`);
  console.log(md);
  console.error(`scaling: results/${opts.out}.md and results/${opts.out}.json written`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

// Attacks on a server started with `serve()` and its defaults, measured: for each attack,
// a fresh server process (lib/attack-server.mjs, 256 MB old space, --expose-gc) reporting
// its memory every 200 ms, one well-behaved client process (lib/attack-normal.mjs) calling
// it every 50 ms, and the attacker in this process, on raw sockets (lib/attack-clients.mjs).
// Everything on 127.0.0.1; every loop bounded in time; every child killed at the end.
// Not part of `pnpm bench`; run it by hand after a build:
//
//   node bench/attacks.mjs [--only 1,2b,…] [--seconds S]    (S: 1-15, default 10)
//
// Target for each attack: heap + external growth ≤ 64 MB over the baseline, the server
// alive, the normal client still answered (no failures), and the attacker closed with a
// clear code (1008/1009/1013) or refused at the upgrade; plus the checks of each attack.
// Where the hardening promises something other than a close (2b: refused calls; 7: the server
// stops reading; 8: one abort listener), the close is not required. Besides the peaks, the
// table gives what is still live after forced GCs at the end (garbage V8 has not collected yet
// counts in the peaks), the normal client's failures by code, and the server's longest
// event-loop delay.
import { fork } from "node:child_process";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import {
  Op,
  batch,
  bimuxFrame,
  closeSeen,
  connectRaw,
  drained,
  flood,
  frameHeader,
  openUpgrade,
  readFrames,
  writable,
} from "./lib/attack-clients.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const MB = 1024 * 1024;
const LIMIT_MB = 64;
const OLD_SPACE_MB = 256; // the server's --max-old-space-size
const CLEAR_CODES = new Set(["1008", "1009", "1013"]);

// ------------------------------------------------------------------ options
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const seconds = Math.min(15, Math.max(1, Number(option("seconds", 10))));
const only = option("only", "")
  .split(",")
  .filter(Boolean);

// ------------------------------------------------------------------ processes
const children = new Set();
process.on("exit", () => children.forEach((child) => child.kill("SIGKILL")));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

/** Forks `script`; resolves once it says it is ready. `request(cmd)` asks it something over IPC. */
async function spawn(script, args, execArgv = []) {
  const child = fork(join(here, "lib", script), args, { execArgv, stdio: ["ignore", "ignore", "pipe", "ipc"] });
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exit = new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  const waiting = new Map();
  let nextId = 0;
  child.on("message", (msg) => {
    const w = waiting.get(msg.id);
    if (w) waiting.delete(msg.id), w(msg);
  });
  exit.then(() => waiting.forEach((w) => w(undefined)));
  const request = (cmd, ms = 5000) =>
    new Promise((resolve) => {
      if (!child.connected) return resolve(undefined);
      const id = ++nextId;
      const timer = setTimeout(() => (waiting.delete(id), resolve(undefined)), ms);
      waiting.set(id, (msg) => (clearTimeout(timer), resolve(msg)));
      child.send({ id, cmd });
    });
  const ready = await new Promise((resolve, reject) => {
    const onMessage = (msg) => msg.ready && (child.off("message", onMessage), resolve(msg));
    child.on("message", onMessage);
    exit.then(({ code, signal }) => reject(new Error(`${script} exited (${code ?? signal}) before it was ready: ${stderr}`)));
  });
  return { child, ready, request, exit, stderr: () => stderr };
}

// ------------------------------------------------------------------ attacks
// Each takes { port, until, report } (report(): the server's latest counters) and returns
// { attacker: what the attacker saw, checks: [[passed, what failed]], notes }.
const EMPTY = new Uint8Array(0);
const ONE = new Uint8Array([1]);
const ATTACKER = { path: "/mux?role=attacker" };

/** Keeps a non-reading connection alive for the server's keepalive: a pong (flag 6) message every 500 ms. */
function signOfLife(socket, until) {
  const pong = bimuxFrame({ number: 0, flag: 6 });
  const timer = setInterval(() => (Date.now() < until && writable(socket) ? socket.write(pong) : clearInterval(timer)), 500);
  return () => clearInterval(timer);
}

const attacks = [
  {
    id: "1",
    name: "ping flood: flag-5 messages as fast as possible, never reading",
    async run({ port, until }) {
      const socket = await connectRaw({ port, ...ATTACKER });
      const chunk = batch(8192, () => bimuxFrame({ number: 0, flag: 5 }));
      const bytes = await flood(socket, chunk, { until });
      return { attacker: await closeSeen(socket), notes: `${((bytes / chunk.length) * 8192 / 1e6).toFixed(1)} M pings sent` };
    },
  },
  {
    id: "2a",
    name: "tiny requests to the echo route, never reading the replies",
    async run({ port, until }) {
      const socket = await connectRaw({ port, ...ATTACKER });
      // Numbers 1..4096 again and again: each is answered before the next arrives.
      const chunk = batch(4096, (i) => bimuxFrame({ number: i + 1, flag: 0, route: 1, data: ONE }));
      const bytes = await flood(socket, chunk, { until });
      return { attacker: await closeSeen(socket), notes: `${((bytes / chunk.length) * 4096 / 1e6).toFixed(1)} M requests sent` };
    },
  },
  {
    id: "2b",
    name: "the server's own small calls (1,000 per 10 ms) to a peer that never reads",
    async run({ port, until, report }) {
      const socket = await connectRaw({ port, path: "/mux?role=attacker&slow=1" });
      const stop = signOfLife(socket, until);
      await sleep(Math.max(0, until - Date.now()));
      stop();
      const { s2c } = (await report())?.counters ?? { s2c: { made: 0, failed: {} } };
      const overloaded = s2c.failed.overloaded ?? 0;
      return {
        attacker: await closeSeen(socket),
        // What the hardening promises here is refused calls; closing the peer is not required.
        closeNotRequired: true,
        checks: [[overloaded > 0, "the server's calls never failed with overloaded"]],
        notes: `server made ${s2c.made} calls, ${overloaded} rejected overloaded`,
      };
    },
  },
  {
    id: "3",
    name: "8 connections × 63 MiB of an unfinished fragmented message (answering pings)",
    async run({ port, until }) {
      const sockets = await Promise.all(Array.from({ length: 8 }, () => connectRaw({ port, ...ATTACKER })));
      // The attacker reads, only to answer the server's WebSocket pings: keepalive then takes it for alive.
      const states = sockets.map((socket) => readFrames(socket, { autoPong: true }));
      const piece = Buffer.alloc(MB);
      let sent = 0;
      await Promise.all(
        sockets.map(async (socket) => {
          for (let i = 0; i < 63 && Date.now() < until && writable(socket); i++) {
            // FIN=0 on every frame: the message is never finished.
            socket.write(frameHeader(piece.length, { opcode: i === 0 ? Op.binary : Op.continuation, fin: false }));
            if (!socket.write(piece)) await drained(socket, until);
            sent += piece.length;
          }
        }),
      );
      await sleep(Math.max(0, until - Date.now()));
      const seen = states.map((s) => (s.closeCode !== undefined ? String(s.closeCode) : s.ended ? "dropped" : "open"));
      sockets.forEach((s) => s.destroy());
      return { attacker: tally(seen), notes: `${(sent / MB).toFixed(0)} MiB sent in unfinished messages` };
    },
  },
  {
    id: "4",
    name: 'peer-id takeover: a second "?agent=victim" connection',
    normal: "agent=victim",
    async run({ port, until, report }) {
      const { socket, response } = openUpgrade({ port, path: "/mux?agent=victim&role=attacker" });
      const { status } = await response;
      const stop = status === 101 ? signOfLife(socket, until) : () => {};
      await sleep(Math.max(0, until - Date.now()));
      stop();
      const { takeover } = (await report())?.counters ?? { takeover: {} };
      return {
        attacker: status === 101 ? await closeSeen(socket) : `HTTP ${status}`,
        refused: status !== 101,
        checks: [[!takeover.toOther, `${takeover.toOther} calls meant for the victim went to the attacker`]],
        notes: `server→"victim" calls: ${takeover.toFirst} to the victim, ${takeover.toOther} to the attacker (${takeover.failed} failed)`,
      };
    },
  },
  {
    id: "5",
    name: "upgrades whose authenticate never settles (1,000, held)",
    minSeconds: 12, // past the planned 10 s authenticateTimeout
    async run({ port, until }) {
      const pending = [];
      for (let i = 0; i < 10 && Date.now() < until; i++) {
        for (let j = 0; j < 100; j++) pending.push(openUpgrade({ port, path: "/mux?hang=1" }));
        await sleep(50);
      }
      const statuses = pending.map(() => "no answer");
      pending.forEach(({ response }, i) => response.then(({ status }) => (statuses[i] = status ? `HTTP ${status}` : "dropped")));
      await sleep(Math.max(0, until - Date.now()));
      pending.forEach(({ socket }) => socket.destroy());
      return { attacker: tally(statuses), refused: statuses.every((s) => s.startsWith("HTTP 5")) };
    },
  },
  {
    id: "6",
    name: "authenticate answering { ok: false } / { id: undefined }",
    normal: "token=good",
    async run({ port, until }) {
      const seen = [];
      for (const token of ["ok-false", "id-undefined"]) {
        const { socket, response } = openUpgrade({ port, path: `/mux?role=attacker&token=${token}` });
        seen.push(`${token}: HTTP ${(await response).status}`);
        socket.destroy();
      }
      await sleep(Math.max(0, Math.min(1000, until - Date.now())));
      return { attacker: seen.join(", "), refused: seen.every((s) => s.endsWith("401")) };
    },
  },
  {
    id: "7",
    name: "one-way flood to a handler that never settles",
    async run({ port, until, report }) {
      const socket = await connectRaw({ port, ...ATTACKER });
      const chunk = batch(4096, (i) => bimuxFrame({ number: i + 1, flag: 2, route: 7, data: ONE }));
      // The most bytes the attacker's socket held unsent: the kernel's buffers full, the server not reading.
      let held = 0;
      const sampler = setInterval(() => (held = Math.max(held, socket.writableLength)), 100);
      const bytes = await flood(socket, chunk, { until });
      clearInterval(sampler);
      const { onewayPeak = 0 } = (await report())?.counters ?? {};
      return {
        attacker: await closeSeen(socket),
        // What the hardening promises here is TCP backpressure (the server stops reading past
        // maxConcurrent), not a close: the attacker is held, not closed.
        closeNotRequired: true,
        checks: [
          [onewayPeak <= 1000, `${onewayPeak} one-way handlers running at once (maxConcurrent 1000)`],
          [held > 0, "the server kept reading the flood"],
        ],
        notes: `${((bytes / chunk.length) * 4096 / 1e6).toFixed(1)} M one-way messages sent; peak ${onewayPeak} handlers running; up to ${(held / MB).toFixed(1)} MiB waited unsent in the attacker's socket`,
      };
    },
  },
  {
    id: "8",
    name: "calls sharing one AbortSignal (4 connections × 2,000 requests that call back)",
    async run({ port, until, report }) {
      const sockets = await Promise.all(Array.from({ length: 4 }, () => connectRaw({ port, ...ATTACKER })));
      // Route 2's handler calls the attacker back under the application's shutdown signal;
      // the attacker never answers, so each call holds its abort listener for its 30 s.
      for (const socket of sockets) socket.write(batch(2000, (i) => bimuxFrame({ number: i + 1, flag: 0, route: 2, data: ONE })));
      const stops = sockets.map((socket) => signOfLife(socket, until));
      await sleep(Math.max(0, until - Date.now()));
      stops.forEach((stop) => stop());
      const { warnings = {}, signalListenersPeak = 0 } = (await report())?.counters ?? {};
      const seen = await Promise.all(sockets.map((s) => closeSeen(s, 1000)));
      const maxListeners = warnings.MaxListenersExceededWarning ?? 0;
      return {
        attacker: tally(seen),
        closeNotRequired: true,
        checks: [
          [maxListeners === 0, `${maxListeners} MaxListenersExceededWarning`],
          [signalListenersPeak <= sockets.length, `${signalListenersPeak} abort listeners on the shared signal`],
        ],
        notes: `peak ${signalListenersPeak} abort listeners on the shared signal; warnings ${JSON.stringify(warnings)}`,
      };
    },
  },
];

/** "1008 ×3, open ×1": how many of each. */
function tally(values) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([v, n]) => (n > 1 ? `${v} ×${n}` : v)).join(", ");
}

// ------------------------------------------------------------------ one attack
async function measure(attack) {
  const duration = Math.min(15, Math.max(seconds, attack.minSeconds ?? 0));
  const server = await spawn("attack-server.mjs", [attack.id, String(duration)], [`--max-old-space-size=${OLD_SPACE_MB}`, "--expose-gc"]);
  const { port } = server.ready;
  const normal = await spawn("attack-normal.mjs", [String(port), attack.normal ?? "agent=normal"]);
  await sleep(300); // the normal client's first calls, the server warm
  const baseline = (await server.request("baseline"))?.memory;
  if (!baseline) throw new Error(`attack ${attack.id}: the server gave no baseline: ${server.stderr()}`);
  let peak = { heapUsed: 0, external: 0, rss: 0, both: 0, heapUsedMax: 0 };
  let latest;
  server.child.on("message", (msg) => {
    if (!msg.report) return;
    latest = msg.report;
    const { heapUsed, external, rss } = msg.report.memory;
    peak = {
      heapUsed: Math.max(peak.heapUsed, heapUsed - baseline.heapUsed),
      external: Math.max(peak.external, external - baseline.external),
      rss: Math.max(peak.rss, rss),
      both: Math.max(peak.both, heapUsed + external - baseline.heapUsed - baseline.external),
      heapUsedMax: Math.max(peak.heapUsedMax, heapUsed),
    };
  });
  let died;
  await normal.request("reset");
  const started = Date.now();
  server.exit.then((exit) => (died = { ...exit, after: (Date.now() - started) / 1000 }));
  const report = async () => (await server.request("report")) ?? (latest && { counters: latest.counters });
  const until = started + duration * 1000;
  let result;
  try {
    result = await attack.run({ port, until, report });
  } catch (error) {
    result = { attacker: `attack failed: ${error.message}` };
  }
  await normal.request("freeze");
  await sleep(2100); // the window's last calls settle (2 s timeout)
  const calls = await normal.request("report");
  const counters = (await report())?.counters;
  // What is still live once garbage is collected (the attacker's sockets are closed by then,
  // or held): tells memory the server keeps from buffers it dropped and V8 has not collected yet.
  const collected = (await server.request("baseline", 10000))?.memory;
  const stderr = server.stderr();
  const oom = /heap out of memory|Allocation failed/i.test(stderr);
  const alive = !died; // before the kill below, which is ours
  for (const child of [server.child, normal.child]) child.kill("SIGKILL");
  await Promise.all([server.exit, normal.exit]);

  const normalOk = !!calls && calls.failed === 0 && calls.ok >= 0.8 * calls.calls;
  const closedClearly = result.refused || String(result.attacker).split(", ").every((s) => CLEAR_CODES.has(s.split(" ")[0]));
  const checks = [
    [peak.both <= LIMIT_MB * MB, `memory +${mb(peak.both)} MB`],
    [alive, "server died"],
    [normalOk, "normal client failed"],
    [result.closeNotRequired || closedClearly, "attacker neither refused nor closed with 1008/1009/1013"],
    ...(result.checks ?? []),
  ];
  const ended = (counters?.attackerCloses ?? []).filter((c) => c.at <= until).map((c) => c.code);
  const failures = checks.filter(([passed]) => !passed).map(([, what]) => what);
  return {
    id: attack.id,
    name: attack.name,
    seconds: duration,
    heap: mb(peak.heapUsed),
    external: mb(peak.external),
    rss: mb(peak.rss),
    afterGc: collected ? mb(collected.heapUsed + collected.external - baseline.heapUsed - baseline.external) : "?",
    // A server whose heap reached 90 % of its old space spends its time collecting: alive only just.
    server: alive && peak.heapUsedMax >= 0.9 * OLD_SPACE_MB * MB ? `alive, at the heap limit` : !alive ? `died (${died.signal ?? `exit ${died.code}`}${oom ? ", OOM" : ""}) at ${died.after.toFixed(1)} s` : "alive",
    attacker: result.attacker,
    normal: calls
      ? `${calls.ok} ok / ${calls.failed} failed of ${calls.calls}` +
        (calls.failed ? ` (${tally(Object.entries(calls.errors ?? {}).flatMap(([code, n]) => Array(n).fill(code)))}; first at ${(calls.firstFailure / 1000).toFixed(1)} s)` : "")
      : "no report",
    verdict: failures.length ? `FAIL: ${failures.join("; ")}` : "pass",
    notes: [
      result.notes,
      // Only what happened in the attack's time: the attacker's own cleanup after it is no finding.
      ended.length ? `attacker connections ended during the attack (server side): ${tally(ended)}` : "",
      counters && Object.keys(counters.errors).length ? `onError ${JSON.stringify(counters.errors)}` : "",
      counters?.loopDelayMaxMs !== undefined ? `server event loop held up to ${counters.loopDelayMaxMs} ms` : "",
    ]
      .filter(Boolean)
      .join("; "),
  };
}

const mb = (bytes) => (bytes / MB).toFixed(0);

// ------------------------------------------------------------------ main
const selected = attacks.filter((a) => !only.length || only.some((o) => a.id === o || a.id.startsWith(o)));
const unknown = only.filter((o) => !attacks.some((a) => a.id.startsWith(o)));
if (unknown.length) throw new Error(`no attack ${unknown.join(", ")}; there are ${attacks.map((a) => a.id).join(", ")}`);
const t0 = Date.now();
// The machine may be shared: its load says how far the timings (not the memory) can be trusted.
const load = () => os.loadavg()[0].toFixed(1);
console.log(`# bimux attacks, ${new Date().toISOString()}; node ${process.version}; ${os.availableParallelism()} CPUs; --seconds ${seconds}; 1-min load average ${load()} at start`);
const rows = [];
for (const attack of selected) {
  process.stderr.write(`attack ${attack.id}: ${attack.name} …\n`);
  const row = await measure(attack);
  rows.push(row);
  process.stderr.write(`  ${row.verdict}\n`);
}
const out = [
  "",
  `Target: heap + external growth ≤ ${LIMIT_MB} MB, server alive, normal client answered (no failures), attacker closed with 1008/1009/1013 or refused.`,
  "",
  "| # | attack | s | heap Δ MB | external Δ MB | RSS peak MB | after GC Δ MB | server | attacker saw | normal client | verdict | notes |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- |",
  ...rows.map(
    (r) => `| ${r.id} | ${r.name} | ${r.seconds} | ${r.heap} | ${r.external} | ${r.rss} | ${r.afterGc} | ${r.server} | ${r.attacker} | ${r.normal} | ${r.verdict} | ${r.notes} |`,
  ),
  "",
  `${rows.filter((r) => r.verdict === "pass").length}/${rows.length} pass; ${((Date.now() - t0) / 1000).toFixed(0)} s; 1-min load average ${load()} at end`,
  "",
];
// Exit only once the table is out: stdout to a pipe is asynchronous, and a bare exit cuts it.
// (Exit at all, because an attacker socket the server never closed would keep this process up.)
process.stdout.write(out.join("\n"), () => process.exit(0));

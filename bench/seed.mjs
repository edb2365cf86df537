// The Go bimux's own benchmark, side by side with the TS port: an HTTP front whose every
// GET makes one rpc into a dialed-in callee that answers the 10 bytes "helloworld", loaded
// by wrk -t2 -c100 (the original used hey -c 100). See README.md, "Seed scenario".
//
//   node seed.mjs [--rounds N] [--seconds S] [--variants go,ts,plain,…] [--loader wrk|autocannon]
//                 [--threads 2] [--connections 100] [--warmup S] [--cpu-prof] [--gomaxprocs N] [--out NAME]
//
// Variants (front + callee, each its own process, on 127.0.0.1):
//   go        Go front + Go callee: interop/go/peer's front/callee modes, gorilla/websocket and
//             golang/protobuf 1.3.5 as in the original (built here, GOPATH mode, from Debian's sources)
//   ts        Node front (serve() attached to its http server) + Node callee (dial()), from @bimux/node's dist/
//   plain     plain Node http answering "helloworld", no rpc: the ceiling for a Node front
//   go-plain  plain Go net/http answering "helloworld": the ceiling for a Go front
//   go-ts     Go front + Node callee;   ts-go  Node front + Go callee (which side costs what)
//   bun       Bun front (Bun.serve + @bimux/bun's bunServer) + Node callee (dial() of @bimux/node)
//   bun-bun   Bun front + Bun callee (@bimux/browser's dial on Bun's own WebSocket client)
//   bun-plain plain Bun.serve answering "helloworld", no rpc: the ceiling for a Bun front
// Bun is the root devDependency `bun` (its binary, run directly); --cpu-prof profiles Bun processes too.
// Rounds are interleaved, each starting with a different variant. Reported per variant:
// req/s of every round, their median, wrk's p50/p99, errors, and CPU µs per request of the
// front and callee processes together (from /proc/PID/stat: the figure least moved by other
// load on the machine). The TS/Go ratio (and Bun/Go, for the Bun fronts) is given per round and of the medians.
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { topSelf } from "./lib/profile.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
const OUT = join(here, "results");
const ROLE = join(here, "lib", "seed-role.mjs");

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const hasWrk = spawnSync("wrk", ["-v"]).error === undefined;
const opts = {
  rounds: Number(option("rounds", 5)),
  seconds: Number(option("seconds", 5)),
  warmup: Number(option("warmup", 2)),
  variants: option("variants", "go,ts,plain").split(","),
  loader: option("loader", hasWrk ? "wrk" : "autocannon"),
  threads: Number(option("threads", 2)),
  connections: Number(option("connections", 100)),
  cpuProf: flag("cpu-prof"),
  // GOMAXPROCS of the Go processes (default: Go's, the number of CPUs). A Node process runs
  // JavaScript on one thread; --gomaxprocs 1 holds Go to one thread of Go code as well.
  gomaxprocs: option("gomaxprocs", ""),
  out: option("out", "seed"),
};
const VARIANTS = {
  go: { front: "go", callee: "go", label: "Go front + Go callee (the original's libraries)" },
  ts: { front: "node", callee: "node", label: "TS front + TS callee (@bimux/node)" },
  plain: { front: "node-plain", label: "plain Node http, no rpc (ceiling)" },
  "go-plain": { front: "go-plain", label: "plain Go net/http, no rpc (ceiling)" },
  "go-ts": { front: "go", callee: "node", label: "Go front + TS callee" },
  "ts-go": { front: "node", callee: "go", label: "TS front + Go callee" },
  bun: { front: "bun", callee: "node", label: "Bun front (Bun.serve + @bimux/bun) + TS callee (@bimux/node)" },
  "bun-bun": { front: "bun", callee: "bun", label: "Bun front + Bun callee (@bimux/browser on Bun's WebSocket)" },
  "bun-plain": { front: "bun-plain", label: "plain Bun.serve, no rpc (ceiling for a Bun front)" },
};
/** The variants compared with go in the ratio lines, when both ran. */
const AGAINST_GO = ["ts", "bun", "bun-bun"];
for (const v of opts.variants) if (!VARIANTS[v]) throw new Error(`unknown variant ${v} (${Object.keys(VARIANTS).join(", ")})`);
if (opts.loader === "wrk" && !hasWrk) throw new Error("wrk not found: apt-get install wrk, or --loader autocannon");

// Everything ends by then, whatever happens: children get it as their own max life too.
const budgetS = Math.ceil(60 + opts.variants.length * (opts.warmup + 3 + opts.rounds * (opts.seconds + 3)));
const deadline = setTimeout(() => {
  console.error(`seed: over the ${budgetS} s budget, killing everything`);
  process.exit(3);
}, budgetS * 1000);
deadline.unref();

// ------------------------------------------------------------------ processes
const children = new Set();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

/** A child that prints one JSON event per line and ends when its stdin closes. */
function launch(name, command, args, env = process.env) {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"], env });
  children.add(child);
  const events = [];
  let wake = () => {};
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => {
    children.delete(child);
    wake();
    resolve(code ?? signal);
  }));
  createInterface({ input: child.stdout }).on("line", (line) => {
    try {
      events.push(JSON.parse(line));
    } catch {
      console.error(`  ${name}: ${line}`);
    }
    wake();
  });
  const waitFor = async (pred, ms = 15_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const hit = events.find(pred);
      if (hit) return hit;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) while starting`);
      if (Date.now() > end) throw new Error(`${name}: timed out while starting`);
      await Promise.race([new Promise((r) => (wake = r)), sleep(100)]);
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  return { name, child, waitFor, stop, exited };
}

function buildGo() {
  const out = join(repo, ".cache", "go-peer");
  mkdirSync(dirname(out), { recursive: true });
  // GOPATH mode on Debian's sources, as packages/node/test/interop-go.test.ts builds it.
  execFileSync("go", ["build", "-o", out, "./interop/go/peer"], {
    cwd: repo,
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 180_000,
    env: { ...process.env, GO111MODULE: "off", GOPATH: process.env.BIMUX_GOPATH ?? "/usr/share/gocode", GOFLAGS: "", GOCACHE: process.env.GOCACHE ?? join(repo, ".cache", "go-build") },
  });
  return out;
}

let goBinary;
const goVersion = () => execFileSync("go", ["version"]).toString().trim();
const life = ["-maxlife", `${budgetS}s`];

const profileFile = (variant, role) => join(OUT, "profile", `seed-${variant}-${role}.cpuprofile`);

function startProcess(variant, kind, role, extra) {
  const name = `${variant}: ${kind} ${role}`;
  if (kind === "go") return launch(name, goBinary, [role, ...life, ...extra.go], opts.gomaxprocs ? { ...process.env, GOMAXPROCS: opts.gomaxprocs } : process.env);
  const file = profileFile(variant, role);
  // Bun takes Node's profiling flags.
  const execArgv = opts.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${dirname(file)}`, `--cpu-prof-name=${basename(file)}`, "--cpu-prof-interval=250"] : [];
  const args = [...execArgv, ROLE, role, "--maxlife", String(budgetS), ...extra.node];
  if (kind === "bun") return launch(name, bunBinary(), [...args, ...(extra.bun ?? [])]);
  return launch(name, process.execPath, args);
}

/** The Bun binary of the root devDependency `bun`, run directly (its npm wrapper would not pass a kill on). */
function bunBinary() {
  const binary = join(dirname(createRequire(join(repo, "package.json")).resolve("bun/package.json")), "bin", "bun.exe");
  if (!existsSync(binary)) throw new Error(`no bun binary at ${binary}: pnpm install (the root devDependency bun brings it)`);
  return binary;
}

/** Which process and role run a variant's front. */
const FRONTS = {
  go: ["go", "front"],
  node: ["node", "front"],
  "go-plain": ["go", "plain"],
  "node-plain": ["node", "plain"],
  bun: ["bun", "bun-front"],
  "bun-plain": ["bun", "bun-plain"],
};

async function startVariant(name) {
  const v = VARIANTS[name];
  const procs = [];
  const [frontKind, frontRole] = FRONTS[v.front];
  const front = startProcess(name, frontKind, frontRole, { go: ["-addr", "127.0.0.1:0"], node: [] });
  procs.push(front);
  const { port } = await front.waitFor((e) => e.event === "listening");
  if (v.callee) {
    const url = `ws://127.0.0.1:${port}/mux`;
    // A Bun callee dials with @bimux/browser, on Bun's own WebSocket client.
    const callee = startProcess(name, v.callee, "callee", { go: ["-url", url], node: ["--url", url], bun: ["--package", "browser"] });
    procs.push(callee);
    await callee.waitFor((e) => e.event === "connect" && e.ok);
    await front.waitFor((e) => e.event === "accepted");
  }
  const url = `http://127.0.0.1:${port}/`;
  // Every variant must answer exactly what the original did.
  const res = await fetch(url);
  const body = await res.text();
  if (res.status !== 200 || body !== "helloworld") throw new Error(`${name}: GET answered ${res.status} ${JSON.stringify(body)}`);
  return { name, url, procs, stop: () => Promise.all(procs.map((p) => p.stop())) };
}

/** utime + stime of a process in µs, from /proc (works for Go and Node alike). */
function cpuUs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
  } catch {
    return NaN;
  }
}
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString()) || 100;
  } catch {
    return 100;
  }
})();

// ------------------------------------------------------------------ load
const unitMs = { us: 1e-3, ms: 1, s: 1000, m: 60_000 };
const toMs = (text) => {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  return m ? Number(m[1]) * unitMs[m[2]] : NaN;
};

function runWrk(url, seconds) {
  return new Promise((resolve, reject) => {
    const args = [`-t${opts.threads}`, `-c${opts.connections}`, `-d${seconds}s`, "--timeout", "5s", "--latency", url];
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "inherit"] });
    children.add(child);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 15) * 1000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      children.delete(child);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !rps) return reject(new Error(`wrk exited ${code}: ${out}`));
      const pct = (p) => toMs((new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out) ?? [])[1] ?? "");
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const non2xx = Number((/Non-2xx or 3xx responses: (\d+)/.exec(out) ?? [])[1] ?? 0);
      const requests = Number((/(\d+) requests in/.exec(out) ?? [])[1] ?? NaN);
      resolve({
        rps: Number(rps[1]),
        requests,
        p50Ms: pct(50),
        p99Ms: pct(99),
        errors: non2xx + (sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0),
      });
    });
    child.once("error", reject);
  });
}

async function runAutocannon(url, seconds) {
  const { default: autocannon } = await import("autocannon");
  const r = await autocannon({ url, connections: opts.connections, duration: seconds, expectBody: "helloworld", timeout: 5 });
  return {
    rps: r.requests.total / r.duration,
    requests: r.requests.total,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx + (r.mismatches ?? 0),
  };
}

async function measure(variant, seconds) {
  const pids = variant.procs.map((p) => p.child.pid);
  const before = pids.map(cpuUs);
  const r = opts.loader === "wrk" ? await runWrk(variant.url, seconds) : await runAutocannon(variant.url, seconds);
  const after = pids.map(cpuUs);
  const cpu = after.reduce((n, a, i) => n + a - before[i], 0);
  return { ...r, cpuUsPerReq: cpu / r.requests };
}

// ------------------------------------------------------------------ report
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString("en-US");
const fmtMs = (n) => (Number.isNaN(n) ? "–" : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function markdown(report) {
  const { results, ratios } = report;
  const lines = [];
  const m = report.machine;
  lines.push(`Date ${report.date}; ${m.nproc} CPUs (${m.cpu}), Node ${m.node}, ${m.go}, ${m.os}; bimux ${m.git}; 1-min load average ${m.loadAtStart.toFixed(2)} at start, ${m.loadAtEnd.toFixed(2)} at end.`);
  lines.push(`Load: ${report.loader} ${opts.loader === "wrk" ? `-t${opts.threads} ` : ""}-c${opts.connections}, ${opts.rounds} rounds × ${opts.seconds} s per variant, interleaved (each round starts with a different variant), after ${opts.warmup} s of warm-up each; no CPU pinning (three busy processes on ${m.nproc} CPUs); Go processes with ${opts.gomaxprocs ? `GOMAXPROCS=${opts.gomaxprocs}` : "Go's default GOMAXPROCS (all CPUs)"}.`);
  lines.push("");
  lines.push("| variant | req/s per round | median req/s | vs go | vs plain | p50 ms | p99 ms | CPU µs/req | errors |");
  lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [name, r] of Object.entries(results)) {
    const go = results.go?.medianRps;
    const plain = results.plain?.medianRps;
    lines.push(
      `| ${name}: ${VARIANTS[name].label} | ${r.rounds.map((x) => fmt(x.rps)).join(", ")} | ${fmt(r.medianRps)} | ${go ? `${(r.medianRps / go).toFixed(2)}×` : "–"} | ${plain ? `${(r.medianRps / plain).toFixed(2)}×` : "–"} | ${fmtMs(r.p50Ms)} | ${fmtMs(r.p99Ms)} | ${r.cpuUsPerReq.toFixed(1)} | ${r.errors} |`,
    );
  }
  for (const [name, r] of Object.entries(ratios ?? {})) {
    const who = name === "ts" ? "TS" : name === "bun" ? "Bun (front) + TS (callee)" : name === "bun-bun" ? "Bun + Bun" : name;
    lines.push("");
    lines.push(`${who}/Go req/s: ${r.perRound.map((x) => `${x.toFixed(2)}×`).join(", ")} per round; median of rounds ${r.medianOfRounds.toFixed(2)}×; ratio of medians ${r.ofMedians.toFixed(2)}× (target ≥ 1.2×: ${r.ofMedians >= 1.2 ? "PASS" : "FAIL"}). Go/${name} CPU µs per request: ${r.cpu.toFixed(2)}×.`);
  }
  for (const p of Object.values(report.profile ?? {})) {
    lines.push("");
    lines.push(`Profile of the ${p.role} of variant ${p.variant} over the whole run (--cpu-prof, which slows it; ${p.totalMs.toFixed(0)} ms sampled, ${((100 * p.idleMs) / p.totalMs).toFixed(0)} % idle):`);
    lines.push("");
    lines.push("| function | self ms | % of busy |");
    lines.push("| --- | ---: | ---: |");
    for (const r of p.rows) lines.push(`| \`${r.fn}\` | ${r.ms.toFixed(0)} | ${Number.isNaN(r.pctBusy) ? "–" : r.pctBusy.toFixed(1)} |`);
  }
  return lines.join("\n");
}

function gitState() {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: here }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "../packages/core/src", "../packages/node/src", "../interop/go"], { cwd: here }).toString().trim();
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return "";
  }
}

// ------------------------------------------------------------------ main
async function main() {
  mkdirSync(OUT, { recursive: true });
  if (opts.cpuProf) mkdirSync(join(OUT, "profile"), { recursive: true });
  const loadAtStart = os.loadavg()[0];
  const git = gitState();
  if (opts.variants.some((v) => [VARIANTS[v].front, VARIANTS[v].callee].some((k) => k?.startsWith("go")))) goBinary = buildGo();
  if (!existsSync(join(repo, "packages", "node", "dist", "index.js"))) throw new Error("packages/node/dist missing: pnpm run build first (bash bench/run.sh seed.mjs does)");
  console.error(`seed: ${opts.variants.join(", ")}; ${opts.rounds} round(s) of ${opts.seconds} s, ${opts.loader}; budget ${budgetS} s`);
  const variants = [];
  const raw = {};
  let profile;
  try {
    for (const name of opts.variants) variants.push(await startVariant(name));
    for (const v of variants) await measure(v, opts.warmup);
    for (let round = 0; round < opts.rounds; round++) {
      const order = variants.map((_, i) => variants[(i + round) % variants.length]);
      const line = [];
      for (const v of order) {
        await sleep(500); // for the last variant's background work (GC, JIT) to end
        const r = await measure(v, opts.seconds);
        (raw[v.name] ??= []).push(r);
        line.push(`${v.name} ${fmt(r.rps)}/s${r.errors ? ` (${r.errors} errors)` : ""}`);
      }
      console.error(`  round ${round + 1}: ${line.join(", ")}`);
    }
  } finally {
    await Promise.all(variants.map((v) => v.stop()));
  }
  if (opts.cpuProf) {
    // Every Node and Bun process of every variant was profiled; the tables show those of "ts" and "bun".
    profile = {};
    for (const [variant, role] of [["ts", "front"], ["ts", "callee"], ["bun", "bun-front"], ["bun", "callee"]]) {
      const file = profileFile(variant, role);
      if (existsSync(file)) profile[`${variant} ${role}`] = { file, variant, role, ...topSelf(file, 20) };
    }
  }
  const results = {};
  for (const name of opts.variants) {
    const rounds = raw[name];
    const requests = rounds.reduce((n, r) => n + r.requests, 0);
    results[name] = {
      rounds,
      medianRps: median(rounds.map((r) => r.rps)),
      p50Ms: median(rounds.map((r) => r.p50Ms)),
      p99Ms: median(rounds.map((r) => r.p99Ms)),
      cpuUsPerReq: rounds.reduce((n, r) => n + r.cpuUsPerReq * r.requests, 0) / requests,
      errors: rounds.reduce((n, r) => n + r.errors, 0),
    };
  }
  let ratios;
  for (const name of AGAINST_GO) {
    if (!results.go || !results[name]) continue;
    const perRound = results[name].rounds.map((r, i) => r.rps / results.go.rounds[i].rps);
    (ratios ??= {})[name] = { perRound, medianOfRounds: median(perRound), ofMedians: results[name].medianRps / results.go.medianRps, cpu: results.go.cpuUsPerReq / results[name].cpuUsPerReq };
  }
  const report = {
    date: new Date().toISOString(),
    command: `node bench/seed.mjs ${argv.join(" ")}`.trim(),
    loader: opts.loader === "wrk" ? spawnSync("wrk", ["-v"]).stdout.toString().split("\n")[0].split(" [")[0] : "autocannon",
    machine: {
      nproc: os.availableParallelism(),
      cpu: (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/) ?? [])[1],
      node: process.version,
      go: goBinary ? goVersion().replace(/^go version /, "") : "no Go",
      os: `${os.type()} ${os.release()}`,
      git,
      loadAtStart,
      loadAtEnd: os.loadavg()[0],
    },
    options: opts,
    results,
    ratios,
    profile,
  };
  const md = markdown(report);
  writeFileSync(join(OUT, `${opts.out}.md`), `${md}\n`);
  writeFileSync(join(OUT, `${opts.out}.json`), `${JSON.stringify(report, null, 2)}\n`);
  console.log(md);
  console.error(`seed: results/${opts.out}.md and results/${opts.out}.json written`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

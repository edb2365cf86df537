// Alternates the direction of 100-in-flight calls on one connection and counts the client's
// garbage collections in each phase: what issue 17's failing p99 came from (see RESULTS.md,
// "About the p99 that fails"). After a build:
//
//   node bench/gc-phases.mjs [--peers ws,bimux] [--phases c2s,s2c,c2s,s2c,c2s] [--duration MS] [--size 10]
//
// Each peer gets a fresh server and client process (unpinned); the client runs with
// --trace-gc, and per phase the script prints calls/s, p50/p99, and the client's scavenges,
// mark-compacts and its heap after the last scavenge. Healthy: no mark-compact, and the
// heap after each scavenge flat. A phase named `gc` makes no calls: it forces full
// collections in the client (it runs with --expose-gc), which promotes whatever is live
// then, e.g. `--phases c2s,gc,c2s`. BENCH_VARIANTS peers work here too.
import { fork } from "node:child_process";
import { performance } from "node:perf_hooks";
import { percentiles } from "./lib/load.mjs";
import { peers } from "./lib/peers.mjs";
import { control } from "./lib/role-process.mjs";

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const peerList = option("peers", "ws,bimux").split(",");
const phases = option("phases", "c2s,s2c,c2s,s2c,c2s").split(",");
const durationMs = Number(option("duration", 1500));
const size = Number(option("size", 10));
for (const p of peerList) if (!(p in peers)) throw new Error(`unknown peer ${p}`);
const ROLE = new URL("./lib/role.mjs", import.meta.url).pathname;

function start(args, execArgv, onLine) {
  const child = fork(ROLE, args, { execArgv, stdio: ["ignore", "pipe", "inherit", "ipc"] });
  let rest = "";
  child.stdout.on("data", (chunk) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop();
    for (const line of lines) onLine(line);
  });
  return control(child, args);
}

for (const peer of peerList) {
  const gcs = [];
  // "[pid:0x…]   1234 ms: Scavenge 13.6 (23.7) -> 7.2 (23.7) MB, 0.39 / 0.00 ms …"
  const onLine = (line) => {
    const m = /: (Scavenge|Mark-Compact)[^\d]*[\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, ([\d.]+)/.exec(line);
    if (m) gcs.push({ at: performance.now(), kind: m[1], after: Number(m[2]), ms: Number(m[3]) });
  };
  const server = start(["server", peer], [], () => {});
  const { port } = await server.ready;
  const client = start(["client", peer, String(port)], ["--trace-gc", "--expose-gc"], onLine);
  try {
    await client.ready;
    await server.request("first");
    console.log(`\n${peer} (client --trace-gc), 100 in flight × ${size} B, ${durationMs} ms per phase`);
    console.log("| phase | calls/s | p50 ms | p99 ms | client scavenges | their ms (max) | mark-compacts | heap after last scavenge MB |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const [i, dir] of phases.entries()) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (dir === "gc") {
        await client.request("mem");
        console.log(`| ${i + 1}. gc | full collections forced in the client, no calls | | | | | | |`);
        continue;
      }
      const from = performance.now();
      const r = await (dir === "s2c" ? server : client).request("load", { inflight: 100, size, durationMs });
      const during = gcs.filter((g) => g.at >= from);
      const scavenges = during.filter((g) => g.kind === "Scavenge");
      const [p50, p99] = percentiles([r.histogram], [50, 99]);
      const cells = [
        `${i + 1}. ${dir}`,
        Math.round((r.calls * 1000) / r.elapsedMs).toLocaleString("en-US"),
        p50.toFixed(3),
        p99.toFixed(3),
        scavenges.length,
        `${scavenges.reduce((n, g) => n + g.ms, 0).toFixed(1)} (${Math.max(0, ...scavenges.map((g) => g.ms)).toFixed(1)})`,
        during.length - scavenges.length,
        scavenges.at(-1)?.after.toFixed(1) ?? "–",
      ];
      console.log(`| ${cells.join(" | ")} |`);
    }
  } finally {
    await Promise.all([client.stop(), server.stop()]);
  }
}

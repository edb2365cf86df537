// The typed layer's overhead: a typed protobuf call (Directory.Echo of @bimux/services),
// a typed JSON-contract call and a contract whose codec passes the bytes as they are (the
// layer without codec work) against a raw `muxer.rpc` echo, 100 calls in flight,
// 10-byte payloads, client → server over a loopback WebSocket, server and client in two
// processes. Rounds interleave the three kinds so that drift hits them alike; calls/s and
// CPU µs per call (both processes, process.cpuUsage) are the medians over the rounds.
// Run after `pnpm run build`: `node bench/services.mjs [--rounds 5] [--duration 2000]`.
// `--in-process`: both muxers in this process over core's in-memory pair, no sockets: the
// typed layer's own CPU cost, without the WebSocket's (and with less noise on a busy machine).
import { fork } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { EXTENSIONS_PROTOCOL, Muxer, dial, serve } from "@bimux/node";
import { runLoad } from "./lib/load.mjs";

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const ROUNDS = arg("rounds", 5);
const DURATION = arg("duration", 2000);
const INFLIGHT = 100;
const RAW_ROUTE = 1;
const PAYLOAD = new TextEncoder().encode("helloworld");

// The generated code is TypeScript: bundled once into bench/.cache (git-ignored), the packages left external.
const out = fileURLToPath(new URL("./.cache/services-entry.mjs", import.meta.url));
mkdirSync(fileURLToPath(new URL("./.cache/", import.meta.url)), { recursive: true });
await build({
  entryPoints: [fileURLToPath(new URL("./lib/services-entry.ts", import.meta.url))],
  outfile: out,
  bundle: true,
  format: "esm",
  platform: "node",
  external: ["@bimux/*", "@bufbuild/protobuf", "@bufbuild/protobuf/*"],
  logLevel: "error",
});
const { Directory, createClient, createDuplexPair, defineService, implement } = await import(out);
const JsonEcho = defineService({ echo: { route: 200 } }, { name: "JsonEcho" });
// The typed layer with no codec work at all (the bytes as they are): what the layer itself costs.
const identity = { encode: (value) => value, decode: (bytes) => bytes };
const BytesEcho = defineService({ echo: { route: 201 } }, { name: "BytesEcho", codec: identity });

/** The server's side: a raw echo, the protobuf Echo, the JSON echo and the bytes echo. */
function serveAll(muxer) {
  muxer.handle(RAW_ROUTE, (_route, data) => data);
  implement(muxer, Directory, { lookup: ({ name }) => ({ name }), echo: (message) => message });
  implement(muxer, JsonEcho, { echo: (message) => message });
  implement(muxer, BytesEcho, { echo: (message) => message });
}

const inProcess = process.argv.includes("--in-process");
if (process.argv[2] === "server") {
  const server = await serve({ host: "127.0.0.1", port: 0, onConnection: serveAll });
  process.on("message", (message) => {
    if (message === "cpu") process.send({ cpu: process.cpuUsage() });
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ port: server.port });
} else {
  let muxer;
  let serverCpu;
  let child;
  if (inProcess) {
    const [near, far] = createDuplexPair({ protocol: EXTENSIONS_PROTOCOL });
    serveAll(new Muxer(far));
    muxer = new Muxer(near);
    // Both sides are this process: process.cpuUsage() below counts them already.
    serverCpu = async () => ({ user: 0, system: 0 });
  } else {
    child = fork(fileURLToPath(import.meta.url), ["server"], { stdio: "inherit" });
    const next = () => new Promise((resolve) => child.once("message", resolve));
    const { port } = await next();
    muxer = await dial(`ws://127.0.0.1:${port}/`);
    serverCpu = async () => (child.send("cpu"), (await next()).cpu);
  }
  const directory = createClient(Directory, muxer);
  const json = createClient(JsonEcho, muxer);
  const bytes = createClient(BytesEcho, muxer);
  const text = "helloworld";
  const kinds = {
    // Each resolves to what has the 10 units runLoad checks: bytes, bytes, a string.
    raw: () => muxer.rpc(RAW_ROUTE, PAYLOAD, { timeout: 10_000 }),
    protobuf: () => directory.echo({ data: PAYLOAD }, { timeout: 10_000 }).then((reply) => reply.data),
    json: () => json.echo({ text }, { timeout: 10_000 }).then((reply) => reply.text),
    "layer only (identity codec)": () => bytes.echo(PAYLOAD, { timeout: 10_000 }),
  };
  // --only KIND: measure one kind alone (for a profile, say).
  const only = process.argv.indexOf("--only");
  if (only > 0) for (const kind of Object.keys(kinds)) if (kind !== process.argv[only + 1]) delete kinds[kind];
  const results = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  const total = (cpu) => cpu.user + cpu.system;
  // Warm up each kind (JIT, buffers) before measuring.
  for (const call of Object.values(kinds)) await runLoad(call, { inflight: INFLIGHT, durationMs: 500, expectLength: 10 });
  for (let round = 0; round < ROUNDS; round++) {
    for (const [kind, call] of Object.entries(kinds)) {
      const [clientBefore, serverBefore] = [process.cpuUsage(), await serverCpu()];
      const run = await runLoad(call, { inflight: INFLIGHT, durationMs: DURATION, expectLength: 10 });
      const [clientAfter, serverAfter] = [process.cpuUsage(clientBefore), await serverCpu()];
      if (run.errors) throw new Error(`${kind}: ${run.errors} errors, the last: ${run.lastError}`);
      const cpu = total(clientAfter) + total(serverAfter) - total(serverBefore);
      results[kind].push({ rate: (run.calls / run.elapsedMs) * 1000, cpuPerCall: cpu / run.calls });
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const raw = results.raw ?? Object.values(results)[0];
  const rawRate = median(raw.map((r) => r.rate));
  const rawCpu = median(raw.map((r) => r.cpuPerCall));
  const where = inProcess ? "both muxers in one process over core's in-memory pair" : "client and server processes over a loopback WebSocket";
  console.log(`${ROUNDS} rounds of ${DURATION} ms per kind, ${INFLIGHT} in flight, 10-byte payloads, ${where}, Node ${process.version}\n`);
  console.log("| call | calls/s (median) | vs raw | CPU µs per call, both sides (median) | vs raw |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const [kind, runs] of Object.entries(results)) {
    const rate = median(runs.map((r) => r.rate));
    const cpu = median(runs.map((r) => r.cpuPerCall));
    const pct = (x, base) => (kind === "raw" ? "–" : `${x >= base ? "+" : ""}${(((x - base) / base) * 100).toFixed(1)} %`);
    console.log(`| ${kind} | ${Math.round(rate).toLocaleString("en")} | ${pct(rate, rawRate)} | ${cpu.toFixed(2)} | ${pct(cpu, rawCpu)} |`);
  }
  console.log(`\nper round (calls/s): ${JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.map((r) => Math.round(r.rate))])))}`);
  muxer.close();
  child?.disconnect();
}

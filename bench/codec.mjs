// The envelope codec alone, in one process: nanoseconds per encodeFrame and decodeFrame of
// @bimux/core's built package, for 10 B and 64 KiB payloads. A frame costs this on each side
// of every call, so a change to codec.ts shows here before it shows in run.mjs's noise.
//
//   node bench/codec.mjs [path/to/core/dist/index.js ...]   (after `pnpm run build`)
//
// With paths, each build is measured in turn (rounds interleaved), e.g. this tree against a
// worktree of an older commit. Each measurement runs for a fixed time, so the run is bounded.
import { fileURLToPath, pathToFileURL } from "node:url";

const builds = process.argv.slice(2);
if (builds.length === 0) builds.push(fileURLToPath(new URL("../packages/core/dist/index.js", import.meta.url)));
const codecs = await Promise.all(builds.map(async (path) => ({ path, ...(await import(pathToFileURL(path).href)) })));

const ROUNDS = 3;
const MEASURE_MS = 400;
const payloads = { "10 B": new Uint8Array(10).fill(7), "64 KiB": new Uint8Array(65536).fill(7) };

/** Runs `step` for MEASURE_MS (after a short warm-up) and returns nanoseconds per call. */
function measure(step) {
  for (let i = 0; i < 20_000; i++) step(i);
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < MEASURE_MS) {
    for (let i = 0; i < 1000; i++) step(calls++);
    now = performance.now();
  }
  return ((now - start) * 1e6) / calls;
}

const results = new Map();
for (let round = 0; round < ROUNDS; round++) {
  for (const codec of codecs) {
    for (const [name, data] of Object.entries(payloads)) {
      const frame = (number) => ({ number: number + 1, flag: codec.Flag.request, route: 7, data, timeout: 30_000 });
      const bytes = codec.encodeFrame(frame(123_455));
      let sink = 0;
      const encode = measure((i) => (sink += codec.encodeFrame(frame(i)).length));
      const decode = measure(() => (sink += codec.decodeFrame(bytes).route));
      if (sink === 0) throw new Error("nothing was measured");
      const key = `${codec.path}\t${name}`;
      results.set(key, [...(results.get(key) ?? []), { encode, decode }]);
    }
  }
}

console.log("| build | payload | encode ns (best of 3) | decode ns (best of 3) |");
console.log("| --- | --- | ---: | ---: |");
for (const [key, runs] of results) {
  const [path, name] = key.split("\t");
  const best = (field) => Math.min(...runs.map((run) => run[field])).toFixed(0);
  console.log(`| ${path} | ${name} | ${best("encode")} | ${best("decode")} |`);
}

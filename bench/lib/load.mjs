// The closed-loop load generator, the same for every peer: `inflight` workers each
// make one call, await it, record its latency, and go again, until the time is up
// (or `maxCalls` is reached). `call` gets the worker's index (0 … inflight-1). Latencies go into a log-scale histogram (1 % wide
// buckets), which is small enough to send to the orchestrator and merge across rounds.
import { performance } from "node:perf_hooks";

const LOG_BASE = Math.log(1.01);

/** Bucket of a latency in microseconds. */
function bucketOf(us) {
  return us <= 1 ? 0 : Math.floor(Math.log(us) / LOG_BASE);
}

/** Latency in ms that a bucket stands for (its geometric middle). */
export function bucketMs(bucket) {
  return Math.pow(1.01, bucket + 0.5) / 1000;
}

export async function runLoad(call, { inflight, durationMs, maxCalls = 50_000_000, expectLength }) {
  const counts = new Map();
  let calls = 0;
  let errors = 0;
  let lastError;
  const start = performance.now();
  const end = start + durationMs;
  const worker = async (index) => {
    while (calls + errors < maxCalls) {
      const t0 = performance.now();
      if (t0 >= end) return;
      try {
        const reply = await call(index);
        if (expectLength !== undefined && reply.length !== expectLength) throw new Error(`reply of ${reply.length} bytes, expected ${expectLength}`);
      } catch (error) {
        errors++;
        lastError = String(error?.message ?? error);
        continue;
      }
      const bucket = bucketOf((performance.now() - t0) * 1000);
      counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
      calls++;
    }
  };
  await Promise.all(Array.from({ length: inflight }, (_, i) => worker(i)));
  const elapsedMs = performance.now() - start;
  return { calls, errors, lastError, elapsedMs, histogram: [...counts] };
}

/** Merges histograms ([bucket, count] pairs) and returns the given percentiles in ms. */
export function percentiles(histograms, ps) {
  const merged = new Map();
  for (const histogram of histograms) for (const [b, c] of histogram) merged.set(b, (merged.get(b) ?? 0) + c);
  const sorted = [...merged].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  return ps.map((p) => {
    if (total === 0) return NaN;
    const rank = Math.ceil((p / 100) * total);
    let seen = 0;
    for (const [b, c] of sorted) {
      seen += c;
      if (seen >= rank) return bucketMs(b);
    }
    return bucketMs(sorted.at(-1)[0]);
  });
}

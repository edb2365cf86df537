// Reads a .cpuprofile (what `node --cpu-prof` writes) and sums self time per
// function: a sample's time belongs to the node it landed on, and nodes of the same
// function (same name, file and line) are added together.
import { readFileSync } from "node:fs";

export function topSelf(file, limit = 20) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  });
  const byFunction = new Map();
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || "(anonymous)";
    const where = callFrame.url ? `${shorten(callFrame.url)}:${callFrame.lineNumber + 1}` : "";
    const key = `${name} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  const idle = byFunction.get("(idle)") ?? 0;
  const rows = [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([fn, us]) => ({ fn, ms: us / 1000, pct: (100 * us) / total, pctBusy: fn === "(idle)" ? NaN : (100 * us) / (total - idle) }));
  return { totalMs: total / 1000, idleMs: idle / 1000, rows };
}

/** Keeps the part of a file URL that says which package it is in. */
function shorten(url) {
  const path = url.replace(/^file:\/\//, "");
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) return path.slice(nm + "node_modules/".length).replace(/^\.pnpm\/[^/]+\/node_modules\//, "");
  const pkg = path.indexOf("/packages/");
  if (pkg >= 0) return path.slice(pkg + 1);
  return path.split("/").slice(-2).join("/");
}

// Draws the figures of scaling.mjs and seed.mjs as SVG charts (plain SVG text, no
// dependency) into bench/charts/, and copies the JSON they were drawn from next to them.
//
//   node charts.mjs [--scaling results/scaling.json] [--seed results/seed.json]
//
// Charts: scaling-inflight.svg and scaling-connections.svg (calls/s and p99 against a log
// axis, one line per peer), seed.svg (median req/s per variant, each round as a dot).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? resolve(argv[i + 1]) : fallback;
};
const OUT = join(here, "charts");
const scalingFile = option("scaling", join(here, "results", "scaling.json"));
const seedFile = option("seed", join(here, "results", "seed.json"));

const COLORS = { bimux: "#1f77b4", ws: "#7f7f7f", socketio: "#d62728", birpc: "#2ca02c" };
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f"];
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmtNum = (n) => (n >= 1e6 ? `${+(n / 1e6).toPrecision(3)}M` : n >= 1e3 ? `${+(n / 1e3).toPrecision(3)}k` : `${+n.toPrecision(3)}`);

/** Ticks of a log axis: powers of ten (and 2, 5 between when the range is short). */
function logTicks(min, max) {
  const ticks = [];
  const steps = Math.log10(max / min) < 2.5 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++)
    for (const s of steps) {
      const v = s * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
    }
  return ticks;
}
function linTicks(max) {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v <= max * 1.0001; v += step) ticks.push(v);
  return ticks;
}

/**
 * One panel: lines of (x, y) points, x on a log scale, y linear or log.
 * Returns SVG elements placed at (ox, oy) with size w × h (plot area inside margins).
 */
function panel({ ox, oy, w, h, title, xLabel, yLabel, series, yLog = false, xValues }) {
  const m = { l: 64, r: 12, t: 28, b: 42 };
  const pw = w - m.l - m.r;
  const ph = h - m.t - m.b;
  const xs = xValues;
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => Number.isFinite(y) && y > 0);
  let yMin = yLog ? Math.min(...ys) : 0;
  let yMax = Math.max(...ys);
  if (yLog) {
    yMin = 10 ** Math.floor(Math.log10(yMin));
    yMax = 10 ** Math.ceil(Math.log10(yMax));
  } else yMax *= 1.1;
  const xPos = (x) => ox + m.l + (xMax === xMin ? pw / 2 : (pw * Math.log(x / xMin)) / Math.log(xMax / xMin));
  const yPos = (y) => oy + m.t + ph - (yLog ? (ph * Math.log(y / yMin)) / Math.log(yMax / yMin) : (ph * y) / yMax);
  const out = [];
  out.push(`<text x="${ox + m.l + pw / 2}" y="${oy + 18}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${ox + m.l}" y="${oy + m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (const t of yLog ? logTicks(yMin, yMax) : linTicks(yMax)) {
    const y = yPos(t);
    out.push(`<line x1="${ox + m.l}" x2="${ox + m.l + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${ox + m.l - 6}" y="${y + 4}" text-anchor="end" font-size="11">${fmtNum(t)}</text>`);
  }
  for (const t of xs) {
    const x = xPos(t);
    out.push(`<line x1="${x}" x2="${x}" y1="${oy + m.t}" y2="${oy + m.t + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${oy + m.t + ph + 16}" text-anchor="middle" font-size="11">${t.toLocaleString("en-US")}</text>`);
  }
  out.push(`<text x="${ox + m.l + pw / 2}" y="${oy + h - 6}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(${ox + 14} ${oy + m.t + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`);
  for (const s of series) {
    const pts = s.points.filter((p) => Number.isFinite(p[1]) && (!yLog || p[1] > 0));
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map(([x, y]) => `${xPos(x).toFixed(1)},${yPos(y).toFixed(1)}`).join(" ")}"/>`);
    for (const [x, y] of pts) out.push(`<circle cx="${xPos(x).toFixed(1)}" cy="${yPos(y).toFixed(1)}" r="3.5" fill="${s.color}"><title>${esc(`${s.name}: ${x} → ${fmtNum(y)}`)}</title></circle>`);
  }
  return out;
}

function legend(x, y, items) {
  return items.map((it, i) => `<rect x="${x + i * 140}" y="${y - 10}" width="14" height="4" fill="${it.color}"/><text x="${x + i * 140 + 20}" y="${y - 5}" font-size="12">${esc(it.name)}</text>`);
}

function svg(width, height, body) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body.join("\n")}\n</svg>\n`;
}

function scalingChart(report, kind, title, xLabel) {
  const curve = report.curves[kind];
  const peers = Object.keys(curve ?? {});
  if (!peers.length) return undefined;
  const xValues = curve[peers[0]].map((r) => r.x);
  const color = (p, i) => COLORS[p] ?? PALETTE[i % PALETTE.length];
  const series = (field) => peers.map((p, i) => ({ name: p, color: color(p, i), points: curve[p].map((r) => [r.x, r[field]]) }));
  const W = 900;
  const H = 380;
  const body = [];
  body.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  body.push(...legend(W / 2 - (peers.length * 140) / 2, 46, peers.map((p, i) => ({ name: p, color: color(p, i) }))));
  body.push(...panel({ ox: 0, oy: 50, w: W / 2, h: H - 90, title: "calls/s", xLabel, yLabel: "calls/s", series: series("callsPerSec"), xValues }));
  body.push(...panel({ ox: W / 2, oy: 50, w: W / 2, h: H - 90, title: "p99 latency (log)", xLabel, yLabel: "p99 ms", series: series("p99Ms"), yLog: true, xValues }));
  const m = report.machine;
  body.push(`<text x="8" y="${H - 8}" font-size="10" fill="#555">${esc(`${report.date.slice(0, 16)}Z · ${m.nproc} CPUs, Node ${m.node} · bimux ${m.git} · load avg ${m.loadAtStart.toFixed(1)}→${m.loadAtEnd.toFixed(1)} · ${report.options.rounds}×${report.options.durationMs} ms per point, ${report.options.size} B, server → client`)}</text>`);
  return svg(W, H, body);
}

const SEED_LABELS = {
  go: "Go front + Go callee",
  ts: "TS front + TS callee",
  plain: "plain Node http, no rpc",
  "go-plain": "plain Go net/http, no rpc",
  "go-ts": "Go front + TS callee",
  "ts-go": "TS front + Go callee",
  bun: "Bun front + TS callee",
  "bun-bun": "Bun front + Bun callee",
  "bun-plain": "plain Bun.serve, no rpc",
};

/** The X/Go ratios of a seed report: keyed by variant since the Bun variants, one TS/Go ratio before. */
function goRatios(report) {
  if (!report.ratios) return [];
  if (typeof report.ratios.ofMedians === "number") return [["TS", report.ratios]];
  const who = { ts: "TS", bun: "Bun+TS", "bun-bun": "Bun+Bun" };
  return Object.entries(report.ratios).map(([name, r]) => [who[name] ?? name, r]);
}

function seedChart(report) {
  const names = Object.keys(report.results);
  const W = 900;
  const rowH = 34;
  const left = 300;
  const right = 80;
  const top = 56;
  const H = top + names.length * rowH + 50;
  const all = names.flatMap((n) => report.results[n].rounds.map((r) => r.rps));
  const max = Math.max(...all) * 1.02;
  const xPos = (v) => left + ((W - left - right) * v) / max;
  const body = [];
  body.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">Seed scenario: HTTP GET → one rpc → 10 B reply (${esc(report.loader)} -t${report.options.threads} -c${report.options.connections})</text>`);
  body.push(`<text x="${W / 2}" y="40" text-anchor="middle" font-size="12">median req/s of ${report.options.rounds} interleaved rounds of ${report.options.seconds} s (bars), each round (dots)${goRatios(report).map(([who, r]) => `; ${who}/Go ${r.ofMedians.toFixed(2)}×`).join("")}</text>`);
  for (const t of linTicks(max)) {
    body.push(`<line x1="${xPos(t)}" x2="${xPos(t)}" y1="${top}" y2="${top + names.length * rowH}" stroke="#e5e5e5"/>`);
    body.push(`<text x="${xPos(t)}" y="${top + names.length * rowH + 16}" text-anchor="middle" font-size="11">${fmtNum(t)}</text>`);
  }
  names.forEach((n, i) => {
    const r = report.results[n];
    const y = top + i * rowH;
    const color = n === "ts" ? "#1f77b4" : n === "go" ? "#00add8" : n.includes("plain") ? "#bbbbbb" : "#9ecae1";
    body.push(`<text x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end" font-size="12">${esc(SEED_LABELS[n] ? `${SEED_LABELS[n]} (${n})` : n)}</text>`);
    body.push(`<rect x="${left}" y="${y + 6}" width="${(xPos(r.medianRps) - left).toFixed(1)}" height="${rowH - 12}" fill="${color}"/>`);
    for (const round of r.rounds) body.push(`<circle cx="${xPos(round.rps).toFixed(1)}" cy="${y + rowH / 2}" r="3" fill="#222"/>`);
    body.push(`<text x="${W - right + 8}" y="${y + rowH / 2 + 4}" font-size="12">${Math.round(r.medianRps).toLocaleString("en-US")}</text>`);
  });
  body.push(`<text x="${left + (W - left - right) / 2}" y="${top + names.length * rowH + 34}" text-anchor="middle" font-size="12">requests/s</text>`);
  const m = report.machine;
  body.push(`<text x="8" y="${H - 6}" font-size="10" fill="#555">${esc(`${report.date.slice(0, 16)}Z · ${m.nproc} CPUs, Node ${m.node}, ${m.go} · bimux ${m.git} · load avg ${m.loadAtStart.toFixed(1)}→${m.loadAtEnd.toFixed(1)}`)}</text>`);
  return svg(W, H, body);
}

mkdirSync(OUT, { recursive: true });
const written = [];
if (existsSync(scalingFile)) {
  const report = JSON.parse(readFileSync(scalingFile, "utf8"));
  writeFileSync(join(OUT, "scaling.json"), `${JSON.stringify(report, null, 2)}\n`);
  const a = scalingChart(report, "inflight", "Server → client calls, one connection: calls in flight", "calls in flight (log)");
  if (a) writeFileSync(join(OUT, "scaling-inflight.svg"), a), written.push("scaling-inflight.svg");
  const b = scalingChart(report, "connections", "Server → client calls: connections, one call in flight on each", "connections (log)");
  if (b) writeFileSync(join(OUT, "scaling-connections.svg"), b), written.push("scaling-connections.svg");
} else console.error(`charts: no ${scalingFile} (run scaling.mjs first)`);
if (existsSync(seedFile)) {
  const report = JSON.parse(readFileSync(seedFile, "utf8"));
  writeFileSync(join(OUT, "seed.json"), `${JSON.stringify({ ...report, profile: undefined }, null, 2)}\n`);
  writeFileSync(join(OUT, "seed.svg"), seedChart(report));
  written.push("seed.svg");
} else console.error(`charts: no ${seedFile} (run seed.mjs first)`);
console.error(`charts: wrote ${written.map((f) => `charts/${f}`).join(", ") || "nothing"}`);

// The server under attack, in its own process: `node attack-server.mjs <attack> <seconds>`,
// forked by bench/attacks.mjs with a small old space (--max-old-space-size) and --expose-gc.
// It runs `serve()` with its defaults plus an ordinary application (an echo route, a route
// that calls the client back, a one-way route, peers named from the URL), and reports its
// memory and a few counters over IPC every 200 ms. It exits when the orchestrator goes away.
import { getEventListeners } from "node:events";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { serve } from "@bimux/node";

const [attack = "", secondsArg = "10"] = process.argv.slice(2);
const seconds = Number(secondsArg);
process.on("disconnect", () => process.exit(0));

const counters = {
  errors: {}, // onError reports by code
  warnings: {}, // process warnings by name (MaxListenersExceededWarning…)
  onewayRunning: 0, // one-way handlers started and not settled (they never settle)
  onewayPeak: 0,
  attackerConnections: 0,
  attackerCloses: [], // each attacker connection's end, as the server saw it: { code, at }
  signalListeners: 0, // abort listeners on the application's shared signal, now and at most
  signalListenersPeak: 0,
  s2c: { made: 0, ok: 0, failed: {} }, // attack 2b: the server's own calls to the slow reader
  takeover: { toFirst: 0, toOther: 0, missing: 0, ok: 0, failed: 0 }, // attack 4
};
// The longest the event loop was held up (ms), since the attack started: what a normal client's call waits for.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
process.on("warning", (warning) => {
  counters.warnings[warning.name] = (counters.warnings[warning.name] ?? 0) + 1;
});

const EMPTY = new Uint8Array(0);
const ONE = new Uint8Array([1]);
const query = (request) => new URL(request.url ?? "/", "http://x").searchParams;
// An application-wide signal, aborted when the application shuts down, passed to every
// outbound call: the usual way to cancel everything at once.
const shutdown = new AbortController();
const firstById = new Map();
const subscribers = new Set(); // attack 7: one-way handlers waiting for an event // the first live muxer that took each id (attack 4)

/** The authentication hooks of attacks 5 and 6; every other attack runs without one. */
const authenticators = {
  // A hook waiting on something that never answers (a dead auth backend, say).
  5: (request) => (query(request).get("hang") === "1" ? new Promise(() => {}) : true),
  // A hook written against a result type of its own: `{ ok: false }`, or an id that is missing.
  6: (request) => {
    const token = query(request).get("token");
    if (token === "good") return true;
    if (token === "ok-false") return { ok: false };
    if (token === "id-undefined") return { id: undefined };
    return false;
  },
};

const server = await serve({
  port: 0,
  host: "127.0.0.1",
  path: "/mux",
  authenticate: authenticators[attack],
  onError: (error) => {
    counters.errors[error.code] = (counters.errors[error.code] ?? 0) + 1;
  },
  handlers: {
    1: (_route, data) => data, // echo
    // Asks the caller's side for the answer, under the application's shutdown signal.
    2: (_route, data, muxer) => muxer.rpc(1, data, { signal: shutdown.signal }),
    3: () => EMPTY,
  },
  onewayHandlers: {
    // Waits for an event that never comes (its resolver kept in a subscriber set, as an
    // event emitter would): the handler's promise never settles, and stays reachable.
    7: () => {
      counters.onewayRunning++;
      counters.onewayPeak = Math.max(counters.onewayPeak, counters.onewayRunning);
      return new Promise((resolve) => subscribers.add(resolve));
    },
  },
  onConnection: (muxer, request) => {
    const params = query(request);
    // The application names peers from the URL, as the README's page example does.
    const agent = params.get("agent");
    if (agent) muxer.id = agent;
    if (!firstById.has(muxer.id)) {
      firstById.set(muxer.id, muxer);
      void muxer.wait().then(() => firstById.get(muxer.id) === muxer && firstById.delete(muxer.id));
    }
    if (params.get("role") === "attacker") {
      counters.attackerConnections++;
      void muxer.wait().then((info) => counters.attackerCloses.push({ code: `${info.code}`, at: Date.now() }));
    }
    if (params.get("slow") === "1") void callSlowReader(muxer);
  },
});

/**
 * Attack 2b: the application pushes small calls to a peer that does not read them,
 * 1,000 every 10 ms (without waiting for answers, as a broadcast would) until the attack's
 * time is up or the connection ends.
 */
async function callSlowReader(muxer) {
  const until = Date.now() + seconds * 1000;
  const { s2c } = counters;
  while (Date.now() < until && !muxer.closed) {
    for (let i = 0; i < 1000; i++) {
      s2c.made++;
      muxer.rpc(1, ONE).then(
        () => s2c.ok++,
        (error) => (s2c.failed[error.code] = (s2c.failed[error.code] ?? 0) + 1),
      );
    }
    await sleep(10);
  }
}

/** Attack 4: calls the peer named "victim" every 50 ms, and notes which connection got them. */
function callVictim() {
  const { takeover } = counters;
  const peer = server.peers.get("victim");
  if (!peer) return void takeover.missing++;
  if (peer === firstById.get("victim")) takeover.toFirst++;
  else takeover.toOther++;
  peer.rpc(3, EMPTY, { timeout: 1000 }).then(
    () => takeover.ok++,
    () => takeover.failed++,
  );
}
if (attack === "4") setInterval(callVictim, 50).unref();

function report() {
  const listeners = getEventListeners(shutdown.signal, "abort").length;
  counters.signalListeners = listeners;
  counters.signalListenersPeak = Math.max(counters.signalListenersPeak, listeners);
  counters.loopDelayMaxMs = Math.round(loopDelay.max / 1e6);
  return { memory: process.memoryUsage(), counters };
}

setInterval(() => process.send?.({ report: report() }), 200).unref();

process.on("message", async (msg) => {
  if (msg.cmd === "baseline") {
    // Full collections with turns of the event loop between them: what is left is live.
    for (let i = 0; i < 3; i++) {
      globalThis.gc?.();
      await sleep(30);
    }
    if (!loopDelay.count) loopDelay.enable(); // the first baseline starts the attack's window
    process.send({ id: msg.id, ok: true, ...report() });
  } else if (msg.cmd === "report") {
    process.send({ id: msg.id, ok: true, ...report() });
  }
});

process.send({ ready: true, port: server.port });

// The well-behaved client that shares the server with the attacker, in its own process so
// that the attacker's busy loop cannot slow it down: `node attack-normal.mjs <port> <query>`.
// It calls the echo route every 50 ms (timeout 2 s) and counts calls, replies and failures; if its
// connection ends it dials again, at most once a second. Driven over IPC by bench/attacks.mjs.
import { dial } from "@bimux/node";

const [port, search = ""] = process.argv.slice(2);
const url = `ws://127.0.0.1:${port}/mux${search ? `?${search}` : ""}`;
process.on("disconnect", () => process.exit(0));

const options = { handlers: { 3: () => new Uint8Array(0) }, onError: () => {}, timeout: 2000 };
let muxer = await dial(url, options);
// errors: failures by code; firstFailure: ms from the window's start to the first failed call's start.
const fresh = () => ({ calls: 0, ok: 0, failed: 0, lastError: undefined, errors: {}, firstFailure: undefined, started: Date.now() });
const failed = (tally, code, at) => {
  tally.failed++;
  tally.lastError = code;
  tally.errors[code] = (tally.errors[code] ?? 0) + 1;
  tally.firstFailure ??= at - tally.started;
};
let counts = fresh();
let frozen; // the window's tally, once the window is over: its last calls may still settle
let redialing = false;
let lastDial = Date.now();
const payload = new TextEncoder().encode("normal");

setInterval(() => {
  const tally = counts; // a call out when the window ends still counts in that window
  tally.calls++;
  const at = Date.now();
  if (muxer.closed) {
    failed(tally, "disconnected", at);
    if (!redialing && Date.now() - lastDial > 1000) {
      redialing = true;
      lastDial = Date.now();
      dial(url, options).then(
        (m) => ((muxer = m), (redialing = false)),
        () => (redialing = false),
      );
    }
    return;
  }
  muxer.rpc(1, payload).then(
    () => tally.ok++,
    (error) => failed(tally, error.code, at),
  );
}, 50).unref();

// reset: a new window starts; freeze: it ends (later calls count nowhere); report: the window's tally.
process.on("message", (msg) => {
  if (msg.cmd === "reset") (counts = fresh()), (frozen = undefined);
  if (msg.cmd === "freeze") (frozen = counts), (counts = fresh());
  process.send({ id: msg.id, ok: true, ...(frozen ?? counts) });
});
process.send({ ready: true });

// What one frame per wake-up costs to send with raw `ws`, and what each thing a
// transport may add to that send costs (issue 17's lone call): a send callback, a cork
// with a nextTick flush, a nextTick alone, reading `bufferedAmount`, `performance.now()`.
// One frame per setImmediate, on a live connection to a sink in another process;
// CPU µs per frame of this process (the sender), best of three rounds after a warm-up.
//
//   node bench/ws-send.mjs [--frames N] [--size B]
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import WebSocket, { WebSocketServer } from "ws";

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};

if (argv[0] === "sink") {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  wss.on("listening", () => process.send(wss.address().port));
  wss.on("connection", (socket) => socket.on("message", () => {}));
} else {
  const frames = option("frames", 40_000);
  const sink = fork(fileURLToPath(import.meta.url), ["sink"]);
  const port = await new Promise((resolve) => sink.once("message", resolve));
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  let tcp;
  ws.once("upgrade", (response) => (tcp = response.socket));
  await new Promise((resolve) => ws.once("open", resolve));
  const data = Buffer.alloc(option("size", 20));
  let queued = 0;
  const written = () => queued--;
  let corked = false;
  const uncork = () => {
    corked = false;
    tcp.uncork();
  };
  const unmark = () => (corked = false);
  const variants = {
    "send(data)": () => ws.send(data),
    "send(data, cb)": () => (queued++, ws.send(data, written)),
    "cork + nextTick uncork + send(data)": () => {
      if (!corked) {
        corked = true;
        tcp.cork();
        process.nextTick(uncork);
      }
      ws.send(data);
    },
    "cork + nextTick uncork + send(data, cb)": () => {
      if (!corked) {
        corked = true;
        tcp.cork();
        process.nextTick(uncork);
      }
      queued++;
      ws.send(data, written);
    },
    "nextTick (no cork) + send(data)": () => {
      if (!corked) {
        corked = true;
        process.nextTick(unmark);
      }
      ws.send(data);
    },
    "bufferedAmount alone": () => ws.bufferedAmount > 1e12 && console.log("never"),
    "performance.now() alone": () => performance.now() < 0 && console.log("never"),
    "nothing (the setImmediate itself)": () => {},
  };
  const run = (send) =>
    new Promise((resolve) => {
      let i = 0;
      const start = process.cpuUsage();
      const step = () => {
        send();
        if (++i < frames) setImmediate(step);
        else {
          const { user, system } = process.cpuUsage(start);
          resolve((user + system) / frames);
        }
      };
      step();
    });
  const best = {};
  for (let round = 0; round < 4; round++) {
    for (const [name, send] of Object.entries(variants)) {
      const us = await run(send);
      if (round > 0) best[name] = Math.min(best[name] ?? Infinity, us);
    }
  }
  console.log(`| one frame of ${data.length} B per wake-up | CPU µs per frame (best of 3) |\n| --- | ---: |`);
  for (const [name, us] of Object.entries(best)) console.log(`| ${name} | ${us.toFixed(2)} |`);
  ws.terminate();
  sink.kill();
}

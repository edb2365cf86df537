#!/usr/bin/env node
// The `bimux` executable: the process's streams and signals around `run`.
import { run } from "./cli.js";

const controller = new AbortController();
let interrupts = 0;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // The first asks for a clean stop (calls cancelled, peers told 1001); a second one does not wait.
    if (++interrupts > 1) process.exit(130);
    controller.abort();
  });
}
const code = await run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
// Let the loop drain rather than exit at once: a closing WebSocket still flushes its
// last frames (a --oneway message, the close handshake). Whatever outlives that by
// two seconds (a straggling socket) does not keep the command from ending.
process.exitCode = code;
setTimeout(() => process.exit(code), 2000).unref();

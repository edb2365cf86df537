// The orchestrator's side of a role process (lib/role.mjs): requests over the IPC channel
// matched to their answers by id, the wait for its "ready", pinning, and stopping it.
// Shared by run.mjs and scaling.mjs, which start the processes each their own way; whether
// taskset is here to pin them with.
import { execFileSync } from "node:child_process";

/** True when `taskset` is here to pin processes with. */
export function hasTaskset() {
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Sets the CPUs of every thread `child` has (threads it makes later inherit it). */
export function pin(child, cpus) {
  try {
    execFileSync("taskset", ["-a", "-c", "-p", cpus, String(child.pid)], { stdio: "ignore" });
  } catch {
    // The child may have just exited; its next request will say so.
  }
}

/**
 * Drives `child`, started with the role arguments `args` (`args[0]` is its role): `request`
 * sends a command and resolves to its answer (or rejects on the child's error, its exit, or
 * after `timeoutMs`); `ready` resolves once it says so, pinned to CPU 0 (servers) or 1
 * (clients) when `pinned`; `stop` asks it to exit and kills it if it does not within 5 s.
 */
export function control(child, args, { pinned = false, onExit = () => {} } = {}) {
  const exited = new Promise((resolve) =>
    child.once("exit", (code) => {
      onExit();
      resolve(code);
    }),
  );
  const waiting = new Map();
  let nextId = 0;
  child.on("message", (msg) => {
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    clearTimeout(w.timer);
    msg.ok ? w.resolve(msg) : w.reject(new Error(`${args.join(" ")}: ${msg.error}`));
  });
  exited.then((code) => {
    for (const w of waiting.values()) w.reject(new Error(`${args.join(" ")} exited with ${code}`));
    waiting.clear();
  });
  const request = (cmd, params = {}, timeoutMs = 120_000) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`${args.join(" ")}: ${cmd} timed out`));
      }, timeoutMs);
      waiting.set(id, { resolve, reject, timer });
      child.send({ id, cmd, ...params });
    });
  const ready = new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (!msg.ready) return;
      child.off("message", onMessage);
      // Pin every thread the process has by now; threads made later inherit it.
      if (pinned) pin(child, args[0] === "server" ? "0" : "1");
      resolve(msg);
    };
    child.on("message", onMessage);
    exited.then((code) => reject(new Error(`${args.join(" ")} exited with ${code} before it was ready`)));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    request("exit", {}, 5000).catch(() => {});
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  return { child, ready, request, stop, exited };
}

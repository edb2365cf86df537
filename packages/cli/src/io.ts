import type { Readable, Writable } from "node:stream";

/** Where a command reads and writes, and what stops it: the process's in the `bimux` bin, a test's in tests. */
export interface CliIO {
  stdin: Readable;
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  /** Ends `serve` and `listen`, and cancels a call in flight: SIGINT and SIGTERM in the bin. */
  signal: AbortSignal;
}

/** Writes and waits until the stream took it: a command's output must be out before its status is. */
export function write(stream: Writable, chunk: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => stream.write(chunk, (error) => (error ? reject(error) : resolve())));
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

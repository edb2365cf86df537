import { PassThrough, Readable } from "node:stream";
import type { CliIO } from "../src/io.js";

/** A command's streams in memory, and its stop signal. */
export interface TestIO {
  io: CliIO;
  stdout(): string;
  stderr(): string;
  stop(): void;
}

/** Streams for one in-process run of the CLI; `input` is its stdin. */
export function testIO(input: string | Uint8Array = ""): TestIO {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const controller = new AbortController();
  return {
    io: { stdin: Readable.from([Buffer.from(input)]), stdout, stderr, signal: controller.signal },
    stdout: () => Buffer.concat(out).toString("utf8"),
    stderr: () => Buffer.concat(err).toString("utf8"),
    stop: () => controller.abort(),
  };
}

/** Polls `check` every few ms until it is true, at most `tries` times: bounded, with no wall-clock assertion. */
export async function until(check: () => boolean, what: string, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

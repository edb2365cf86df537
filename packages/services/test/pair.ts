import { EXTENSIONS_PROTOCOL, Muxer, type MuxerOptions } from "@bimux/core";
import { createDuplexPair } from "@bimux/core/testing";
import { afterEach } from "vitest";

const open: Muxer[] = [];
afterEach(() => {
  for (const muxer of open.splice(0)) muxer.close();
});

/**
 * Two muxers joined in memory, as a server and a page over a WebSocket that negotiated
 * bimux-ts's extensions (deadlines and cancels travel); closed after each test.
 */
export function pair(a: MuxerOptions = {}, b: MuxerOptions = {}): { server: Muxer; page: Muxer } {
  const [da, db] = createDuplexPair({ protocol: EXTENSIONS_PROTOCOL });
  const server = new Muxer(da, { onError: () => {}, ...a });
  const page = new Muxer(db, { onError: () => {}, ...b });
  open.push(server, page);
  return { server, page };
}

/** Resolves when `signal` aborts, with its reason. */
export function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener("abort", () => resolve(signal.reason), { once: true });
  });
}

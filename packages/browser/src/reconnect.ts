import { ReconnectingMuxer, type MuxerOptions, type ReconnectOptions, type ReconnectingMuxerOptions } from "@bimux/core";
import { opener, type DialOptions } from "./dial.js";

/** Options of {@link dialReconnecting}: those of `dial`, the retry policy, and a state hook. */
export interface ReconnectingDialOptions extends DialOptions, Omit<ReconnectingMuxerOptions, keyof MuxerOptions> {
  /** The retry policy. Default: `true`, the defaults of {@link ReconnectOptions}. */
  reconnect?: true | ReconnectOptions;
}

/**
 * Connects like `dial`, then keeps the page connected: after every drop it dials
 * again, with exponential backoff and jitter, keeping its handlers and id, so the
 * server can call the page again. Resolves once first connected; rejects if it
 * gives up (`maxAttempts`) or `signal` fires first. A separate function so that
 * pages that do not reconnect do not ship the code.
 */
export async function dialReconnecting(url: string, options: ReconnectingDialOptions = {}): Promise<ReconnectingMuxer> {
  const { reconnect = true, signal, ...rest } = options;
  return ReconnectingMuxer.start(opener(url, options), { ...rest, ...(reconnect === true ? {} : reconnect) }, signal, `dial ${url}`);
}

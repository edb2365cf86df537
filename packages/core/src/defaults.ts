import { BimuxError } from "./errors.js";

const MiB = 1024 * 1024;

/**
 * Every default of bimux, in one place: the muxer's limits, the dial's and the
 * reconnecting client's timings, and the server's. Each option's TSDoc names its
 * default; this object is what the code reads.
 */
export const DEFAULTS = {
  /** Timeout of a call that names none, in ms. */
  timeout: 30_000,
  /** Keepalive interval, in ms: a silent peer is probed after one, dropped after two or three. */
  keepaliveInterval: 5000,
  /** Largest message sent or accepted, in bytes. */
  maxMessageSize: 16 * MiB,
  /** Inbound handlers running at once, requests and one-way messages together. */
  maxConcurrent: 1000,
  /** Outbound calls waiting for a reply, per connection. */
  maxPendingCalls: 10_000,
  /** What each frame queued in the transport costs beyond its bytes, in the outbound budget. */
  frameOverhead: 256,
  /** Bytes buffered by the transport before writes wait for it to drain. */
  highWaterMark: MiB,
  /** Bytes the transport may buffer beyond `highWaterMark` before writes fail with `overloaded`. */
  maxQueuedBytes: 16 * MiB,
  /** Longest error message sent in an error reply, in characters. */
  maxErrorMessage: 1024,
  /** How long a dial waits for the WebSocket handshake, in ms. */
  handshakeTimeout: 10_000,
  /** How long a W3C dial remembers a server that took none of its subprotocols, and offers it only the application's own, in ms. */
  plainServerMemory: 60_000,
  /** Reconnect: delay before the first retry, in ms. */
  initialDelay: 250,
  /** Reconnect: longest delay between retries, in ms. */
  maxDelay: 30_000,
  /** Reconnect: each failed attempt multiplies the delay by this. */
  factor: 2,
  /** Reconnect: the random fraction of each delay. */
  jitter: 0.5,
  /** Reconnect: a connection that lasts less than this many ms counts as a failed attempt. */
  stableAfter: 5000,
  /** Server: bytes of unfinished inbound messages held across all connections before the largest holder is closed. */
  maxInboundBytes: 32 * MiB,
  /** Server: ms an unfinished inbound message may go without progress before its connection is closed. */
  partialMessageTimeout: 30_000,
  /** Server: upgrade requests waiting for the authenticate hook at once; more are answered 503. */
  maxPendingUpgrades: 1024,
  /** Server: ms the authenticate hook may take before the upgrade is answered 503. */
  authenticateTimeout: 10_000,
  /** Server: how long `close()` lets peers answer the close handshake, in ms. */
  closeGrace: 2000,
} as const;

/** The timeout in ms, `Infinity` for none; throws `invalid_argument` unless positive. `name` says which option. */
export function checkTimeout(timeout: number, name = "timeout"): number {
  if (!(timeout > 0)) throw new BimuxError("invalid_argument", `${name} must be a positive number of ms, got ${timeout}`);
  // Timers cannot wait longer than 2^31 - 1 ms (about 24.8 days): beyond that means no limit.
  return timeout > 0x7fffffff ? Infinity : timeout;
}

import { BimuxError } from "./errors.js";

const MiB = 1024 * 1024;

// Every default of bimux, in one place: the muxer's limits, the dial's and the reconnecting
// client's timings, and the server's. One constant each, so that a page's bundle keeps only
// those its code reads; DEFAULTS gathers them for applications and for the Node packages.

/** Timeout of a call that names none, in ms. */
export const TIMEOUT = 30_000;

/** Keepalive interval, in ms: a silent peer is probed after one, dropped after two or three. */
export const KEEPALIVE_INTERVAL = 5000;

/** Largest message sent or accepted, in bytes. */
export const MAX_MESSAGE_SIZE = 16 * MiB;

/** Inbound handlers running at once, requests and one-way messages together. */
export const MAX_CONCURRENT = 1000;

/** Outbound calls waiting for a reply, per connection. */
export const MAX_PENDING_CALLS = 10_000;

/** What each frame queued in the transport costs beyond its bytes, in the outbound budget. */
export const FRAME_OVERHEAD = 256;

/** Bytes buffered by the transport before writes wait for it to drain. */
export const HIGH_WATER_MARK = MiB;

/** Bytes the transport may buffer beyond `highWaterMark` before writes fail with `overloaded`. */
export const MAX_QUEUED_BYTES = 16 * MiB;

/** Longest error message sent in an error reply, in characters. */
export const MAX_ERROR_MESSAGE = 1024;

/** How long a dial waits for the WebSocket handshake, in ms. */
export const HANDSHAKE_TIMEOUT = 10_000;

/** How long a W3C dial remembers a server that took none of its subprotocols, and offers it only the application's own, in ms. */
export const PLAIN_SERVER_MEMORY = 60_000;

/** Reconnect: delay before the first retry, in ms. */
export const INITIAL_DELAY = 250;

/** Reconnect: longest delay between retries, in ms. */
export const MAX_DELAY = 30_000;

/** Reconnect: each failed attempt multiplies the delay by this. */
export const FACTOR = 2;

/** Reconnect: the random fraction of each delay. */
export const JITTER = 0.5;

/** Reconnect: a connection that lasts less than this many ms counts as a failed attempt. */
export const STABLE_AFTER = 5000;

/** Server: bytes of unfinished inbound messages held across all connections before the largest holder is closed. */
export const MAX_INBOUND_BYTES = 32 * MiB;

/** Server: ms an unfinished inbound message may go without progress before its connection is closed. */
export const PARTIAL_MESSAGE_TIMEOUT = 30_000;

/** Server: upgrade requests waiting for the authenticate hook at once; more are answered 503. */
export const MAX_PENDING_UPGRADES = 1024;

/** Server: ms the authenticate hook may take before the upgrade is answered 503. */
export const AUTHENTICATE_TIMEOUT = 10_000;

/** Server: how long `close()` lets peers answer the close handshake, in ms. */
export const CLOSE_GRACE = 2000;

/**
 * Every default of bimux, by option name. Each option's TSDoc names its default; the code
 * reads the constants this object is made of.
 */
export const DEFAULTS = {
  /** Timeout of a call that names none, in ms. */
  timeout: TIMEOUT,
  /** Keepalive interval, in ms: a silent peer is probed after one, dropped after two or three. */
  keepaliveInterval: KEEPALIVE_INTERVAL,
  /** Largest message sent or accepted, in bytes. */
  maxMessageSize: MAX_MESSAGE_SIZE,
  /** Inbound handlers running at once, requests and one-way messages together. */
  maxConcurrent: MAX_CONCURRENT,
  /** Outbound calls waiting for a reply, per connection. */
  maxPendingCalls: MAX_PENDING_CALLS,
  /** What each frame queued in the transport costs beyond its bytes, in the outbound budget. */
  frameOverhead: FRAME_OVERHEAD,
  /** Bytes buffered by the transport before writes wait for it to drain. */
  highWaterMark: HIGH_WATER_MARK,
  /** Bytes the transport may buffer beyond `highWaterMark` before writes fail with `overloaded`. */
  maxQueuedBytes: MAX_QUEUED_BYTES,
  /** Longest error message sent in an error reply, in characters. */
  maxErrorMessage: MAX_ERROR_MESSAGE,
  /** How long a dial waits for the WebSocket handshake, in ms. */
  handshakeTimeout: HANDSHAKE_TIMEOUT,
  /** How long a W3C dial remembers a server that took none of its subprotocols, and offers it only the application's own, in ms. */
  plainServerMemory: PLAIN_SERVER_MEMORY,
  /** Reconnect: delay before the first retry, in ms. */
  initialDelay: INITIAL_DELAY,
  /** Reconnect: longest delay between retries, in ms. */
  maxDelay: MAX_DELAY,
  /** Reconnect: each failed attempt multiplies the delay by this. */
  factor: FACTOR,
  /** Reconnect: the random fraction of each delay. */
  jitter: JITTER,
  /** Reconnect: a connection that lasts less than this many ms counts as a failed attempt. */
  stableAfter: STABLE_AFTER,
  /** Server: bytes of unfinished inbound messages held across all connections before the largest holder is closed. */
  maxInboundBytes: MAX_INBOUND_BYTES,
  /** Server: ms an unfinished inbound message may go without progress before its connection is closed. */
  partialMessageTimeout: PARTIAL_MESSAGE_TIMEOUT,
  /** Server: upgrade requests waiting for the authenticate hook at once; more are answered 503. */
  maxPendingUpgrades: MAX_PENDING_UPGRADES,
  /** Server: ms the authenticate hook may take before the upgrade is answered 503. */
  authenticateTimeout: AUTHENTICATE_TIMEOUT,
  /** Server: how long `close()` lets peers answer the close handshake, in ms. */
  closeGrace: CLOSE_GRACE,
} as const;

/** The timeout in ms, `Infinity` for none; throws `invalid_argument` unless positive. `name` says which option. */
export function checkTimeout(timeout: number, name = "timeout"): number {
  if (!(timeout > 0)) throw new BimuxError("invalid_argument", `${name} must be a positive number of ms, got ${timeout}`);
  // Timers cannot wait longer than 2^31 - 1 ms (about 24.8 days): beyond that means no limit.
  return timeout > 0x7fffffff ? Infinity : timeout;
}

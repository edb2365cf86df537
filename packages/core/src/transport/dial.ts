import { HANDSHAKE_TIMEOUT, PLAIN_SERVER_MEMORY, checkTimeout } from "../defaults.js";
import { BimuxError } from "../errors.js";
import { Muxer, type MuxerOptions } from "../muxer/muxer.js";
import { offeredProtocols } from "../negotiation.js";
import { ReconnectingMuxer, type ReconnectOptions, type ReconnectingMuxerOptions } from "../reconnect.js";
import type { Duplex } from "./duplex.js";
import { closeCode, type WebSocketLike } from "./websocket.js";
import { webSocketDuplex } from "./websocket-duplex.js";

/** Options of a dial: the muxer's hooks and settings, and how to connect. */
export interface DialOptions extends MuxerOptions {
  /** WebSocket subprotocols to offer the server, in order of preference. */
  protocols?: string[];
  /** Aborting it gives up connecting. */
  signal?: AbortSignal;
  /** Give up connecting after this many milliseconds; `Infinity` for no limit. Default 10 000. */
  handshakeTimeout?: number;
  /**
   * Offer the bimux-ts extensions (cancel, keepalive pings, request timeouts). Default
   * true. A server that does not take them (the Go original) gets the plain Go protocol.
   */
  extensions?: boolean;
}

/** Options of a reconnecting dial: those of a dial, the retry policy, and a state hook. */
export interface ReconnectingDialOptions extends DialOptions {
  /** The retry policy: backoff, attempts, the queue of calls made while down. Default: `true`, every default of {@link ReconnectOptions}. */
  reconnect?: true | ReconnectOptions;
  /** Called on every change of the client's state. */
  onStateChange?: ReconnectingMuxerOptions["onStateChange"];
}

/** Where a reconnecting client dials: one URL, several tried in turn, or a function giving the next. */
export type DialTarget = string | readonly string[] | ((attempt: number) => string);

/**
 * How a runtime makes WebSockets: the one thing a transport package gives the shared dial.
 * `@bimux/browser` makes the native `WebSocket`; `@bimux/node` makes `ws` sockets.
 */
export interface WebSocketTransport<S extends WebSocketLike = WebSocketLike> {
  /** Starts connecting to `url`, offering `protocols`; may throw for a URL it cannot dial. */
  create(url: string, protocols: string[], options: DialOptions): S;
  /**
   * True when the transport offers the extensions its own way (Node's header) and reports
   * them through the socket's `protocol`: then the dial does not offer the subprotocol.
   */
  readonly offersExtensions?: boolean;
  /**
   * The error for the server's refusal of the upgrade to `url`, when the transport could see
   * it (browsers cannot): see `upgradeRefused`. A W3C dial needs none of that code.
   */
  refused?(socket: S, url: string): BimuxError | undefined;
  /** The open socket as a {@link Duplex}. Default {@link webSocketDuplex}. */
  duplex?(socket: S, options: DialOptions): Duplex;
}

function ignore(): void {}

// Servers that took none of the subprotocols offered, by URL, until when: dials there in the
// meantime offer only the application's own. Not for good: a W3C socket cannot tell that answer
// from a server that was down for a moment (both close 1006), and a bimux-ts server would lose
// its extensions: a minute.
const plain = new Map<string, number>();

/**
 * Opens one WebSocket with `transport` and resolves to its {@link Duplex} once open.
 * Rejects with a {@link BimuxError}: `unavailable` when it fails, closes or times out
 * before opening; `unauthenticated`, `permission_denied` or `already_exists` (with the
 * HTTP `status`) when the server refused the upgrade with 401, 403 or 409; `aborted`
 * when `signal` fires; `invalid_argument` for a URL or timeout it cannot use.
 */
export function openWebSocket<S extends WebSocketLike>(
  url: string,
  protocols: string[],
  options: DialOptions,
  transport: WebSocketTransport<S>,
  signal = options.signal,
): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    const timeout = checkTimeout(options.handshakeTimeout ?? HANDSHAKE_TIMEOUT, "handshakeTimeout");
    let ws: S | undefined;
    let failure = "";
    const fail = (error: BimuxError) => {
      done();
      // A late event changes nothing: the promise is settled. (An error event must still find a
      // listener: Node's ws throws one that has none.)
      if (ws) {
        ws.onopen = ws.onclose = null;
        ws.onerror = ignore;
      }
      try {
        ws?.close();
      } catch {
        // Already closed.
      }
      reject(error);
    };
    const onAbort = () => fail(new BimuxError("aborted", `dial ${url} was aborted`, { cause: signal!.reason }));
    const timer =
      timeout === Infinity ? undefined : setTimeout(() => fail(new BimuxError("unavailable", `dial ${url}: no answer to the handshake within ${timeout} ms`)), timeout);
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    if (signal?.aborted) return onAbort();
    try {
      ws = transport.create(url, protocols, options);
    } catch (error) {
      return fail(new BimuxError("invalid_argument", `cannot dial ${url}: ${BimuxError.from(error).rawMessage}`, { cause: error }));
    }
    const socket = ws;
    signal?.addEventListener("abort", onAbort);
    socket.onopen = () => {
      done();
      socket.onopen = socket.onerror = socket.onclose = null;
      // From now on the duplex owns the socket, and its own close handler replaces ours.
      resolve((transport.duplex ?? webSocketDuplex)(socket, options));
    };
    // Sockets that say why (Node's ws does, browsers do not) say it in the error event.
    socket.onerror = (event) => {
      failure = String((event as { message?: unknown } | undefined)?.message ?? "");
    };
    // A failed connection is an error event, then a close: the code, and what the transport saw, is all there is.
    socket.onclose = (event) => {
      const code = closeCode(event.code);
      fail(transport.refused?.(socket, url) ?? new BimuxError("unavailable", `cannot connect to ${url} (close ${code}${failure ? `: ${failure}` : ""})`, { cause: code }));
    };
  });
}

/**
 * The function that opens one connection to `target` as `options` say: for a dial, or for
 * every attempt of a reconnecting client (`attempt` counts them, from 0).
 */
export function connector<S extends WebSocketLike>(
  target: DialTarget,
  options: DialOptions,
  transport: WebSocketTransport<S>,
): (signal?: AbortSignal, attempt?: number) => Promise<Duplex> {
  const { protocols = [], extensions = true } = options;
  const offer = transport.offersExtensions ? protocols : offeredProtocols(protocols, extensions);
  return (signal, attempt = 0) => {
    const url = typeof target === "string" ? target : typeof target === "function" ? target(attempt) : target[attempt % target.length]!;
    const open = (offered: string[]) => openWebSocket(url, offered, options, transport, signal);
    return offer.length === protocols.length || plain.get(url)! > Date.now()
      ? open(protocols)
      : open(offer).catch(async (error: BimuxError) => {
          // A server that picks no subprotocol (the Go original) makes a W3C socket fail the handshake
          // it had answered with 101: the socket closes, 1006, before it opens. Once more without ours.
          // Only that failure has cause 1006 (an abort whose reason is 1006 would fail the retry with
          // the same error, the signal staying aborted).
          if (error.cause !== 1006) throw error;
          const duplex = await open(protocols);
          plain.set(url, Date.now() + PLAIN_SERVER_MEMORY);
          return duplex;
        });
  };
}

/**
 * Connects to a bimux server (the Go `WsDial`) and resolves to the muxer once the
 * WebSocket is open; its hooks and handlers serve the server's calls. What both
 * transport packages' `dial` is.
 */
export async function dialWith<S extends WebSocketLike>(url: string, options: DialOptions, transport: WebSocketTransport<S>): Promise<Muxer> {
  const duplex = await connector(url, options, transport)(options.signal);
  try {
    return new Muxer(duplex, options);
  } catch (error) {
    // Options the muxer refuses (a route that is not an int32…): do not leave the socket open behind the error.
    duplex.close(1000, "");
    throw error;
  }
}

/**
 * Connects like {@link dialWith}, then stays connected: after every drop it dials again,
 * with backoff and jitter, keeping its handlers and id. `target` may list several URLs,
 * tried in turn (a node that died is skipped for the next), or be a function of the attempt.
 * What both transport packages' `dialReconnecting` is.
 */
export function dialReconnectingWith<S extends WebSocketLike>(
  target: DialTarget,
  options: ReconnectingDialOptions,
  transport: WebSocketTransport<S>,
): Promise<ReconnectingMuxer> {
  const { reconnect } = options;
  // The dial's own options (signal, protocols…) go along too: the muxer ignores them.
  return ReconnectingMuxer.start(
    connector(target, options, transport),
    { ...options, ...(reconnect === true ? {} : reconnect) },
    options.signal,
    `dial ${typeof target === "string" ? target : "bimux"}`,
  );
}

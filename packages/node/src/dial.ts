import {
  BimuxError,
  EXTENSIONS_PROTOCOL,
  Muxer,
  ReconnectingMuxer,
  type Duplex,
  type MuxerOptions,
  type ReconnectOptions,
  type ReconnectingMuxerOptions,
} from "@bimux/core";
import type { IncomingMessage } from "node:http";
import WebSocket from "ws";
import { EXTENSIONS_HEADER, wsDuplex } from "./ws-duplex.js";

/** Options of {@link dial}: the hooks of the muxer, and how to connect. */
export interface DialOptions extends MuxerOptions {
  /** Extra headers on the upgrade request (for example `authorization`). */
  headers?: Record<string, string>;
  /** Give up connecting after this many milliseconds. Default 10 000. */
  handshakeTimeout?: number;
  /** Aborting it gives up connecting. */
  signal?: AbortSignal;
  /**
   * Offer the bimux-ts extensions (cancel, keepalive pings, request timeouts), in
   * an `x-bimux-extensions` header. Default true; a server that does not answer
   * in kind (the Go original) gets the plain Go protocol, on the same handshake.
   */
  extensions?: boolean;
}

/** Options of a reconnecting {@link dial}: the retry policy and a state hook besides. */
export interface ReconnectingDialOptions extends DialOptions, Omit<ReconnectingMuxerOptions, keyof MuxerOptions> {
  /** Dial again whenever the connection drops: `true` for the default policy. */
  reconnect: true | ReconnectOptions;
}

/**
 * Connects to a bimux server (the Go `WsDial`) and resolves to the muxer once the
 * WebSocket is open. The hooks serve the server's calls to this side.
 * Rejects with code `unavailable` when the connection cannot be made.
 *
 * With `reconnect`, resolves to a {@link ReconnectingMuxer} once first connected,
 * which dials again after every drop, keeping its handlers.
 */
export function dial(url: string, options: ReconnectingDialOptions): Promise<ReconnectingMuxer>;
export function dial(url: string, options?: DialOptions): Promise<Muxer>;
export async function dial(url: string, options: DialOptions | ReconnectingDialOptions = {}): Promise<Muxer | ReconnectingMuxer> {
  const open = opener(url, options);
  if (!("reconnect" in options) || !options.reconnect) {
    const duplex = await open(options.signal);
    try {
      return new Muxer(duplex, options);
    } catch (error) {
      // Options the muxer refuses (a route that is not an int32…): do not leave the socket open behind the error.
      duplex.close(1000, "");
      throw error;
    }
  }
  const policy = options.reconnect === true ? {} : options.reconnect;
  return ReconnectingMuxer.start((attempt) => open(attempt), { ...options, ...policy }, options.signal, `dial ${url}`);
}

function ignore(): void {}

/** Makes the function that opens one WebSocket to `url`, for one dial or for every reconnect. */
function opener(url: string, options: DialOptions): (signal?: AbortSignal) => Promise<Duplex> {
  return (signal) => openOnce(url, options, options.extensions ?? true, signal);
}

function openOnce(url: string, options: DialOptions, offer: boolean, signal: AbortSignal | undefined): Promise<Duplex> {
  const { headers, handshakeTimeout = 10_000, maxMessageSize = 64 * 1024 * 1024 } = options;
  return new Promise<Duplex>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new BimuxError("aborted", `dial ${url} was aborted`, { cause: signal.reason }));
      return;
    }
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, {
        headers: offer ? { ...headers, [EXTENSIONS_HEADER]: EXTENSIONS_PROTOCOL } : headers,
        handshakeTimeout,
        maxPayload: maxMessageSize,
        perMessageDeflate: false,
      });
    } catch (error) {
      reject(new BimuxError("invalid_argument", `cannot dial ${url}: ${(error as Error).message}`, { cause: error }));
      return;
    }
    const fail = (error: BimuxError): void => {
      cleanup();
      reject(error);
    };
    const onAbort = (): void => {
      fail(new BimuxError("aborted", `dial ${url} was aborted`, { cause: signal?.reason }));
      // Terminating a socket still connecting makes it emit an error, which nobody waits for any more.
      ws.on("error", ignore);
      ws.terminate();
    };
    const onError = (error: Error): void => {
      fail(new BimuxError("unavailable", `cannot connect to ${url}: ${error.message}`, { cause: error }));
    };
    const onClose = (code: number): void => fail(new BimuxError("unavailable", `connection to ${url} closed while opening (${code})`));
    let accepted = "";
    const onUpgrade = (response: IncomingMessage): void => {
      if (offer && response.headers[EXTENSIONS_HEADER] === EXTENSIONS_PROTOCOL) accepted = EXTENSIONS_PROTOCOL;
    };
    const onOpen = (): void => {
      cleanup();
      resolve(wsDuplex(ws, accepted));
    };
    const cleanup = (): void => {
      ws.off("upgrade", onUpgrade);
      ws.off("open", onOpen);
      // The duplex made on open listens for errors from then on.
      ws.off("error", onError);
      ws.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    ws.on("upgrade", onUpgrade);
    ws.on("open", onOpen);
    ws.on("error", onError);
    ws.on("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * {@link dial} with `reconnect` on (the default policy unless `reconnect` says
 * otherwise): the same call as in `@bimux/browser`.
 */
export function dialReconnecting(
  url: string,
  options: Omit<ReconnectingDialOptions, "reconnect"> & { reconnect?: true | ReconnectOptions } = {},
): Promise<ReconnectingMuxer> {
  return dial(url, { ...options, reconnect: options.reconnect ?? true });
}

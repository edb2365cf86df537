import { BimuxError, type Duplex } from "@bimux/core";
import { checkTimeout, text } from "@bimux/core/internal";
import { webSocketDuplex } from "./websocket-duplex.js";

/** Options of {@link openWebSocket}. */
export interface OpenWebSocketOptions {
  /** Subprotocols to offer (`Sec-WebSocket-Protocol`). */
  protocols?: string[];
  /** Aborting it gives up opening. */
  signal?: AbortSignal;
  /** Give up opening after this many milliseconds. Default 10 000. */
  timeout?: number;
}

/**
 * Opens a native WebSocket and resolves to its {@link Duplex} once it is open.
 * Rejects with a {@link BimuxError}: `unavailable` when the connection fails, is
 * closed or times out before opening, `aborted` when `signal` fires.
 */
export function openWebSocket(url: string, { protocols, signal, timeout = 10_000 }: OpenWebSocketOptions = {}): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    // Throws `invalid_argument` for a timeout that is not a positive number, which rejects.
    checkTimeout(timeout);
    const fail = (code: "aborted" | "unavailable" | "invalid_argument", message: string, cause?: unknown) => {
      done();
      // A late event changes nothing: the promise is settled.
      ws?.close();
      reject(new BimuxError(code, message, { cause }));
    };
    const onAbort = () => fail("aborted", text`opening ${url} was aborted`, signal!.reason);
    const timer = setTimeout(() => fail("unavailable", text`opening ${url} timed out after ${timeout} ms`), Math.min(timeout, 0x7fffffff));
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    let ws: WebSocket | undefined;
    if (signal?.aborted) return onAbort();
    try {
      ws = new WebSocket(url, protocols);
    } catch (error) {
      return fail("invalid_argument", text`cannot open ${url}: ${(error as Error).message}`, error);
    }
    signal?.addEventListener("abort", onAbort);
    ws.onopen = () => {
      done();
      // From now on the duplex owns the socket, and its own close handler replaces ours.
      resolve(webSocketDuplex(ws!));
    };
    // A failed connection is an error event, which says nothing, then a close: the code is all there is.
    ws.onclose = (event) => fail("unavailable", text`cannot connect to ${url} (close ${event.code})`, event.code);
  });
}

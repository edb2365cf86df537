import { BimuxError, type Duplex } from "@bimux/core";
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
export function openWebSocket(url: string, options: OpenWebSocketOptions = {}): Promise<Duplex> {
  const { protocols, signal, timeout = 10_000 } = options;
  return new Promise<Duplex>((resolve, reject) => {
    const fail = (code: "aborted" | "unavailable" | "invalid_argument", message: string, cause?: unknown) => {
      done();
      ws?.close();
      reject(new BimuxError(code, message, { cause }));
    };
    const onAbort = () => fail("aborted", `opening ${url} was aborted`, signal?.reason);
    const timer = setTimeout(() => fail("unavailable", `opening ${url} timed out after ${timeout} ms`), Math.min(timeout, 0x7fffffff));
    // The handlers go once settled: from then on the duplex owns the socket.
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (ws) ws.onopen = ws.onerror = ws.onclose = null;
    };
    let ws: WebSocket | undefined;
    if (!(timeout > 0)) return fail("invalid_argument", `timeout must be a positive number of ms, got ${timeout}`);
    if (signal?.aborted) return onAbort();
    try {
      ws = new WebSocket(url, protocols);
    } catch (error) {
      return fail("invalid_argument", `cannot open ${url}: ${(error as Error).message}`, error);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    ws.onopen = () => {
      done();
      resolve(webSocketDuplex(ws!));
    };
    // Browsers say nothing about why a connection failed; the close code is all there is.
    ws.onerror = () => fail("unavailable", `cannot connect to ${url}`);
    ws.onclose = (event) => fail("unavailable", `connection to ${url} closed while opening (${event.code})`);
  });
}

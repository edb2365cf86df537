import { BimuxError, type Duplex } from "@bimux/core";
import { webSocketDuplex } from "./websocket-duplex.js";

/** Options of {@link openWebSocket}. */
export interface OpenWebSocketOptions {
  /** WebSocket subprotocols to offer; the one the server picks is the duplex's `protocol`. */
  protocols?: string[];
  /** Aborting it gives up connecting. */
  signal?: AbortSignal;
  /** Give up connecting after this many milliseconds; `Infinity` for no limit. Default 10 000. */
  timeout?: number;
}

const DEFAULT_TIMEOUT = 10_000;

/**
 * Opens a browser WebSocket to `url` and resolves to it as a {@link Duplex} once
 * the handshake is done. Rejects with a {@link BimuxError}: `unavailable` when
 * the connection fails, closes or times out before it opens, `aborted` when
 * `signal` fires, `invalid_argument` for a URL or option the browser refuses.
 */
export function openWebSocket(url: string, options: OpenWebSocketOptions = {}): Promise<Duplex> {
  const { protocols, signal, timeout = DEFAULT_TIMEOUT } = options;
  return new Promise<Duplex>((resolve, reject) => {
    if (!(timeout > 0)) {
      reject(new BimuxError("invalid_argument", `timeout must be a positive number of ms, got ${timeout}`));
      return;
    }
    if (signal?.aborted) {
      reject(new BimuxError("aborted", `opening ${url} was aborted`, { cause: signal.reason }));
      return;
    }
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, protocols);
    } catch (error) {
      reject(new BimuxError("invalid_argument", `cannot open ${url}: ${(error as Error).message}`, { cause: error }));
      return;
    }

    const settle = (): void => {
      clearTimeout(timer);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("error", onError);
      ws.removeEventListener("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    const giveUp = (error: BimuxError): void => {
      settle();
      ws.close();
      reject(error);
    };
    const onOpen = (): void => {
      settle();
      // Made in the open event's own task, so it is listening before any message event.
      resolve(webSocketDuplex(ws));
    };
    const onError = (): void => {
      settle();
      // Browsers keep the cause to themselves (their console has it).
      reject(new BimuxError("unavailable", `cannot connect to ${url}`));
    };
    const onClose = (event: { code: number }): void => {
      settle();
      reject(new BimuxError("unavailable", `connection to ${url} closed while opening (${event.code})`));
    };
    const onAbort = (): void => giveUp(new BimuxError("aborted", `opening ${url} was aborted`, { cause: signal?.reason }));

    // Timers cannot wait past 2^31 - 1 ms; beyond that means no limit.
    const timer =
      timeout <= 0x7fffffff
        ? setTimeout(() => giveUp(new BimuxError("unavailable", `opening ${url} timed out after ${timeout} ms`)), timeout)
        : undefined;
    ws.addEventListener("open", onOpen);
    ws.addEventListener("error", onError);
    ws.addEventListener("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

import { BimuxError, Muxer, type MuxerOptions } from "@bimux/core";
import WebSocket from "ws";
import { wsDuplex } from "./ws-duplex.js";

/** Options of {@link dial}: the hooks of the muxer, and how to connect. */
export interface DialOptions extends MuxerOptions {
  /** Extra headers on the upgrade request (for example `authorization`). */
  headers?: Record<string, string>;
  /** Give up connecting after this many milliseconds. Default 10 000. */
  handshakeTimeout?: number;
  /** Largest message accepted, in bytes; larger ones close the connection with 1009. Default 64 MiB. */
  maxPayload?: number;
  /** Aborting it gives up connecting. */
  signal?: AbortSignal;
}

/**
 * Connects to a bimux server (the Go `WsDial`) and resolves to the muxer once the
 * WebSocket is open. The hooks serve the server's calls to this side.
 * Rejects with code `unavailable` when the connection cannot be made.
 */
export function dial(url: string, options: DialOptions = {}): Promise<Muxer> {
  const { headers, handshakeTimeout = 10_000, maxPayload = 64 * 1024 * 1024, signal, ...muxerOptions } = options;
  return new Promise<Muxer>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new BimuxError("aborted", `dial ${url} was aborted`, { cause: signal.reason }));
      return;
    }
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, { headers, handshakeTimeout, maxPayload, perMessageDeflate: false });
    } catch (error) {
      reject(new BimuxError("invalid_argument", `cannot dial ${url}: ${(error as Error).message}`, { cause: error }));
      return;
    }
    const onAbort = (): void => {
      fail(new BimuxError("aborted", `dial ${url} was aborted`, { cause: signal?.reason }));
      ws.terminate();
    };
    const fail = (error: BimuxError): void => {
      cleanup();
      reject(error);
    };
    const onError = (error: Error): void => {
      fail(new BimuxError("unavailable", `cannot connect to ${url}: ${error.message}`, { cause: error }));
    };
    const onClose = (code: number): void => fail(new BimuxError("unavailable", `connection to ${url} closed while opening (${code})`));
    const onOpen = (): void => {
      cleanup();
      resolve(new Muxer(wsDuplex(ws), muxerOptions));
    };
    const cleanup = (): void => {
      ws.off("open", onOpen);
      ws.off("error", onError);
      ws.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    ws.on("open", onOpen);
    ws.on("error", onError);
    ws.on("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

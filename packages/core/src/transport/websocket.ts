/**
 * A handler property of a {@link WebSocketLike}, typed as a method so that the DOM's
 * own `WebSocket` (whose handlers take a `MessageEvent` or `CloseEvent`) fits it.
 */
type Handler<E> = { bivarianceHack(event: E): void }["bivarianceHack"] | null;

/**
 * The part of the W3C `WebSocket` that bimux uses: what a browser, Deno, Bun and
 * Node 22's global `WebSocket` have, and Node's `ws` too. Core never names a
 * runtime's socket type; transports hand it one of these.
 */
export interface WebSocketLike {
  /** `"blob"` by default in browsers; bimux reads binary messages as `ArrayBuffer` (or a Node `Buffer`). */
  binaryType: string;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes queued by `send` and not yet sent. */
  readonly bufferedAmount: number;
  /** The subprotocol the server picked, "" for none. */
  readonly protocol: string;
  onopen: Handler<unknown>;
  onmessage: Handler<{ readonly data: unknown }>;
  onclose: Handler<{ readonly code: number; readonly reason: string }>;
  onerror: Handler<unknown>;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

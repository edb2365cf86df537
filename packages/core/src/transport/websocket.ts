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

/**
 * A socket's close code as the WHATWG spec has it: 1006 for a connection that ended
 * without a close frame. Deno's `WebSocket` reports that (a refused or failed
 * connection, a dropped one) as code 0, which names no close at all; without this a
 * lost connection would end a muxer with code 0, and the dial's retry without the
 * extensions, which waits for a failed handshake's 1006, would not know it.
 */
export function closeCode(code: number): number {
  return code === 0 ? 1006 : code;
}

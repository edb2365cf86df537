import type { Muxer, ReconnectingMuxer } from "@bimux/core";
import { dialReconnectingWith, dialWith, type DialOptions, type DialTarget, type ReconnectingDialOptions, type WebSocketTransport } from "@bimux/core/transport";

/**
 * The page's sockets: the runtime's own `WebSocket` (a browser's, Deno's, Bun's, or
 * Node 22's), which offers the extensions as a subprotocol.
 */
const transport: WebSocketTransport<WebSocket> = {
  create: (url, protocols) => new WebSocket(url, protocols),
};

/**
 * Connects to a bimux server from a page (the Go `WsDial`) and resolves to the
 * muxer once the WebSocket is open. The hooks and handlers serve the server's calls
 * to the page. Rejects with a `BimuxError`: `unavailable` when the connection cannot
 * be made or the handshake takes longer than `handshakeTimeout`, `aborted` when `signal`
 * fires first. (A page cannot see why a server refused its upgrade: browsers report
 * every refusal as close 1006, so it is `unavailable` too.)
 *
 * A server that does not take the extensions (the Go original) answers with no
 * subprotocol, which makes the browser fail that handshake: dial then connects once
 * more offering only `protocols`, and does so directly for a minute.
 */
export function dial(url: string, options: DialOptions = {}): Promise<Muxer> {
  return dialWith(url, options, transport);
}

/**
 * Connects like {@link dial}, then keeps the page connected: after every drop it
 * dials again, with exponential backoff and jitter, keeping its handlers and id, so
 * the server can call the page again. `url` may be a list of servers, tried in turn,
 * or a function giving the URL of each attempt. Resolves once first connected;
 * rejects if it gives up (`maxAttempts`) or `signal` fires first. A function of its
 * own so that pages that do not reconnect do not ship the code.
 */
export function dialReconnecting(url: DialTarget, options: ReconnectingDialOptions = {}): Promise<ReconnectingMuxer> {
  return dialReconnectingWith(url, options, transport);
}

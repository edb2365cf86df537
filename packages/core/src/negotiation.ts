/**
 * Extension negotiation, in one place. bimux-ts peers understand more than the Go
 * protocol (error replies are always sent, since Go drops them; cancel, ping/pong
 * and request timeouts only to a peer that said it understands them; see
 * docs/protocol.md). A peer says so in the WebSocket handshake:
 * - a browser (or any W3C WebSocket) offers the subprotocol {@link EXTENSIONS_PROTOCOL};
 *   a server that picks no subprotocol (the Go original) makes the socket fail, so the
 *   dial connects once more offering only the application's own (see transport/dial.ts);
 * - a Node client sends the header {@link EXTENSIONS_HEADER}, which a Go server ignores
 *   without failing the handshake (Node's `ws` refuses a handshake in which the server
 *   picks none of the subprotocols offered), and a bimux-ts server answers in kind.
 * Either way, the duplex reports the agreed protocol, and {@link negotiated} reads it.
 */

/** The WebSocket subprotocol that says a peer understands the bimux-ts extensions. */
export const EXTENSIONS_PROTOCOL = "bimux.ext.v1";

/** The HTTP header a non-browser client offers the extensions with, and a bimux-ts server accepts them with. */
export const EXTENSIONS_HEADER = "x-bimux-extensions";

/** True when the protocol a duplex reports means the peer negotiated the extensions. */
export function negotiated(protocol: string | undefined): boolean {
  return protocol === EXTENSIONS_PROTOCOL;
}

/** The subprotocols a W3C WebSocket offers: the application's own, then the extensions' if wanted. */
export function offeredProtocols(protocols: readonly string[], extensions: boolean): string[] {
  return extensions && !protocols.includes(EXTENSIONS_PROTOCOL) ? [...protocols, EXTENSIONS_PROTOCOL] : [...protocols];
}

/** Whether a server that `enabled` the extensions takes them from a client that offered them as a subprotocol. */
export function acceptsSubprotocol(enabled: boolean, offered: ReadonlySet<string>): boolean {
  return enabled && offered.has(EXTENSIONS_PROTOCOL);
}

/** Whether a server that `enabled` the extensions takes them from a client that offered them in the header. */
export function acceptsHeader(enabled: boolean, header: string | string[] | undefined): boolean {
  return enabled && header === EXTENSIONS_PROTOCOL;
}

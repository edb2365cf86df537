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

/**
 * Whether a server takes the extensions for an upgrade request: when it `enabled`
 * them, and the client offered them as a subprotocol or in the header.
 * @returns the subprotocol to answer with (or `false` for none) and whether to answer with the header.
 */
export function acceptExtensions(enabled: boolean, subprotocols: ReadonlySet<string>, header: string | string[] | undefined): { subprotocol: boolean; header: boolean } {
  return { subprotocol: enabled && subprotocols.has(EXTENSIONS_PROTOCOL), header: enabled && header === EXTENSIONS_PROTOCOL };
}

/**
 * The WebSocket subprotocol a bimux-ts peer offers to say it understands the
 * negotiated extensions (cancel, ping/pong, request timeouts; see docs/protocol.md).
 * A peer that does not pick it — the Go original, say — gets the base protocol only.
 */
export const EXTENSIONS_PROTOCOL = "bimux.ext.v1";

// `@bimux/core/transport`: what a transport package (@bimux/node, @bimux/browser, @bimux/bun,
// or yours) builds on, and what builds on any server (the peer registry, which @bimux/nats
// follows). Applications need none of it.
export type { Duplex, DuplexSink } from "./duplex.js";
export type { WebSocketLike } from "./websocket.js";
export { webSocketDuplex } from "./websocket-duplex.js";
export { connector, dialReconnectingWith, dialWith, openWebSocket } from "./dial.js";
export type { DialOptions, DialTarget, ReconnectingDialOptions, WebSocketTransport } from "./dial.js";
export { DEFAULTS, checkTimeout } from "../defaults.js";
export { closeCodeFor, upgradeRefused } from "../errors.js";
export { EXTENSIONS_HEADER, EXTENSIONS_PROTOCOL, acceptsHeader, acceptsSubprotocol, negotiated, offeredProtocols } from "../negotiation.js";
export { authenticateUpgrade, originAllowed, refused } from "./upgrade-gate.js";
export type { AuthContext, AuthResult, Authenticate, OriginPolicy, Verdict } from "./upgrade-gate.js";
export { PeerRegistry, isAutomaticId } from "./peer-registry.js";
export type { DuplicateIdPolicy, PeerEvent, PeerListener } from "./peer-registry.js";

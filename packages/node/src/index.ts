export { serve } from "./serve/server.js";
export type { BimuxServer, ServeOptions } from "./serve/server.js";
export type { AuthContext, Authenticate, AuthResult, OriginPolicy } from "./serve/upgrade-gate.js";
export { measureRtt, peerInfo, watchPeers, type PeerEvent, type PeerInfo } from "./serve/peer-info.js";
// The registry lives in core, shared with @bimux/bun's server; re-exported under the names it always had here.
export { PeerRegistry } from "@bimux/core/transport";
export type { DuplicateIdPolicy, PeerEvent as RegistryEvent, PeerListener } from "@bimux/core/transport";
export { ConnectionQueue } from "./connection-queue.js";
export { dial, dialReconnecting } from "./dial.js";
export type { DialOptions, NodeConnectOptions, ReconnectingDialOptions } from "./dial.js";
export { wsDuplex } from "./ws-duplex.js";
export * from "@bimux/core";

export { serve } from "./serve/server.js";
export type { BimuxServer, ServeOptions } from "./serve/server.js";
export type { Authenticate, AuthResult, OriginPolicy } from "./serve/upgrade-gate.js";
export { PeerRegistry } from "./serve/peer-registry.js";
export { ConnectionQueue } from "./connection-queue.js";
export { dial, dialReconnecting } from "./dial.js";
export type { DialOptions, NodeConnectOptions, ReconnectingDialOptions } from "./dial.js";
export { wsDuplex } from "./ws-duplex.js";
export * from "@bimux/core";

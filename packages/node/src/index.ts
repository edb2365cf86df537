export { serve } from "./serve.js";
export type { Authenticate, AuthResult, BimuxServer, OriginPolicy, ServeOptions } from "./serve.js";
export { dial, dialReconnecting } from "./dial.js";
export type { DialOptions, ReconnectingDialOptions } from "./dial.js";
export { PeerRegistry } from "./peers.js";
export { ConnectionQueue } from "./connection-queue.js";
export { EXTENSIONS_HEADER, wsDuplex } from "./ws-duplex.js";
export * from "@bimux/core";

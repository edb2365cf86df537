export { bunServer } from "./server.js";
export type { BunBimuxServer, BunServerOptions } from "./server.js";
export type { BimuxSocketData } from "./bun-duplex.js";
export type { AuthContext, Authenticate, AuthResult, OriginPolicy } from "./gate.js";
// The registry of `peers` is core's, as @bimux/node's is: exported under @bimux/node's names.
export { PeerRegistry } from "@bimux/core/transport";
export type { DuplicateIdPolicy, PeerEvent as RegistryEvent, PeerListener } from "@bimux/core/transport";
// One Muxer and one BimuxError for the application and this package, as @bimux/node re-exports them.
export * from "@bimux/core";

export { bunServer } from "./server.js";
export type { BunBimuxServer, BunServerOptions } from "./server.js";
export type { BimuxSocketData } from "./bun-duplex.js";
export type { AuthContext, Authenticate, AuthResult, OriginPolicy } from "./gate.js";
// One Muxer and one BimuxError for the application and this package, as @bimux/node re-exports them.
export * from "@bimux/core";

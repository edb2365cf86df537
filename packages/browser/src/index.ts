export { dial } from "./dial.js";
export { dialReconnecting } from "./reconnect.js";
export type { ReconnectingDialOptions } from "./reconnect.js";
export type { DialOptions } from "./dial.js";
export { openWebSocket } from "./open.js";
export type { OpenWebSocketOptions } from "./open.js";
export { webSocketDuplex } from "./websocket-duplex.js";
export * from "@bimux/core";

export { dial, dialReconnecting } from "./dial.js";
export * from "@bimux/core";

// What both entries (index.ts and contract-only.ts) export as it is.
export { defineService } from "./contract.js";
export type { AnyContract, Contract, ContractMethods, ContractOptions, ContractSpec, MethodSpec } from "./contract.js";
export { jsonCodec } from "./codec.js";
export type { Codec } from "./codec.js";
export { combineHandlers } from "./implement.js";
export type { ServiceHandlers } from "./implement.js";
export type { Client, Implementation, Service, Signature, Signatures } from "./service.js";
export type { Caller, Host, RawOnewayHandler, RawRpcHandler } from "./peer.js";
export type { IsEmpty } from "./protobuf.js";

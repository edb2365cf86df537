// The API of bimux's core: the muxer, its errors, the wire format, the reconnecting
// client, and the types both transport packages share. What transports need beyond
// this is in `@bimux/core/transport` (src/transport/index.ts).
export { Muxer } from "./muxer/muxer.js";
export type { CloseHook, CloseInfo, MuxerOptions, ReadPacketOptions, RpcOptions } from "./muxer/muxer.js";
export type { CallContext, OnewayHandler, RpcHandler, RpcResult } from "./muxer/dispatcher.js";
export { BimuxError, isErrorCode } from "./errors.js";
export type { BimuxErrorOptions, ErrorCode } from "./errors.js";
export { DEFAULTS } from "./defaults.js";
export { CloseCode } from "./wire/close-codes.js";
export { Flag } from "./wire/flags.js";
export { decodeErrorReply, decodeFrame, encodeErrorReply, encodeFrame } from "./wire/codec.js";
export type { ErrorReply, FlagValue, Frame, FrameAllocator, WireNumber } from "./wire/codec.js";
export type { Duplex, DuplexSink } from "./transport/duplex.js";
export type { DialOptions, DialTarget, ReconnectingDialOptions } from "./transport/dial.js";
export { ReconnectingMuxer } from "./reconnect.js";
export type { Connect, ConnectionState, ReconnectOptions, ReconnectingMuxerOptions } from "./reconnect.js";
export { EXTENSIONS_HEADER, EXTENSIONS_PROTOCOL } from "./negotiation.js";

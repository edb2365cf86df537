export { Muxer } from "./muxer.js";
/** @internal For @bimux/browser: not part of the API, may change without notice. */
export { checkTimeout } from "./muxer.js";
/** @internal For @bimux/browser: not part of the API, may change without notice. */
export { text } from "./text.js";
export type { CloseHook, CloseInfo, MuxerOptions, ReadPacketOptions, RpcOptions } from "./muxer.js";
export type { CallContext, OnewayHandler, RpcHandler, RpcResult } from "./dispatcher.js";
export { BimuxError, isErrorCode } from "./errors.js";
export type { BimuxErrorOptions, ErrorCode } from "./errors.js";
export { CloseCode } from "./duplex.js";
export type { Duplex, DuplexSink } from "./duplex.js";
export { Flag, decodeErrorReply, decodeFrame, encodeErrorReply, encodeFrame } from "./codec.js";
export type { ErrorReply, FlagValue, Frame, FrameAllocator, WireNumber } from "./codec.js";
export { ReconnectingMuxer } from "./reconnect.js";
export type { Connect, ConnectionState, ReconnectOptions, ReconnectingMuxerOptions } from "./reconnect.js";
export { EXTENSIONS_PROTOCOL } from "./extensions.js";

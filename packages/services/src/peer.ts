import type { CallContext, RpcOptions } from "@bimux/core";

/**
 * What a client calls through: anything with the raw `rpc` and `send` of a bimux `Muxer`.
 * Typed by shape, not by class, so that a `Muxer` of `@bimux/core`, `@bimux/node` or
 * `@bimux/browser`, a `ReconnectingMuxer`, a server's `peers.get(id)`, or any wrapper
 * with these two methods fits.
 */
export interface Caller {
  /** The peer's id, when it has one (a `Muxer` has). */
  readonly id?: string;
  /** A request on `route`, settling with the reply's bytes or a `BimuxError`. */
  rpc(route: number, data: Uint8Array, options?: RpcOptions): Promise<Uint8Array>;
  /** A one-way message on `route`. */
  send(route: number, data: Uint8Array): Promise<void>;
}

/**
 * The raw request handler a {@link Host} registers: as core's `RpcHandler`, with the
 * muxer typed by shape (a {@link Caller}) so that every muxer class fits.
 */
export type RawRpcHandler = (
  route: number,
  data: Uint8Array,
  peer: Caller,
  context: CallContext,
) => Uint8Array | void | Promise<Uint8Array | void>;

/** The raw one-way handler a {@link Host} registers: as core's `OnewayHandler`, typed by shape. */
export type RawOnewayHandler = (route: number, data: Uint8Array, peer: Caller) => void | Promise<void>;

/**
 * What a service is implemented on: anything with the per-route `handle` and
 * `handleOneway` of a bimux `Muxer` (or a `ReconnectingMuxer`, which keeps them
 * across reconnects). Each returns a function that removes the handler.
 */
export interface Host {
  /** Serves requests on `route` with `handler`. */
  handle(route: number, handler: RawRpcHandler): () => void;
  /** Handles one-way messages on `route` with `handler`. */
  handleOneway(route: number, handler: RawOnewayHandler): () => void;
}

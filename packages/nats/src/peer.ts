import type { Muxer, RpcOptions } from "@bimux/core";

/**
 * The calling side of a {@link Muxer}: what a typed client built on a muxer uses. A
 * {@link ClusterPeer} has it, so such a client works as well for a peer on another node.
 */
export type Caller = Pick<Muxer, "rpc" | "send">;

/** What a {@link ClusterPeer} calls through: the cluster's own rpc and send. */
export interface PeerCalls {
  rpc(id: string, route: number, data: Uint8Array, options?: RpcOptions): Promise<Uint8Array>;
  send(id: string, route: number, data: Uint8Array): Promise<void>;
}

/**
 * A peer of the cluster by id, wherever it is connected, usable where a {@link Muxer}
 * is expected for calls: `rpc` and `send` have the muxer's signatures. It holds no
 * connection: each call finds the peer anew, so the handle outlives the peer's
 * reconnections and moves between nodes.
 */
export class ClusterPeer implements Caller {
  constructor(
    /** The peer's id. */
    readonly id: string,
    private readonly calls: PeerCalls,
  ) {}

  /** Calls the peer's handler for `route`, as `Muxer.rpc` does: see `Cluster.rpc` for the errors. */
  rpc(route: number, data: Uint8Array, options?: RpcOptions): Promise<Uint8Array> {
    return this.calls.rpc(this.id, route, data, options);
  }

  /** Sends the peer a one-way message on `route`, as `Muxer.send` does: see `Cluster.send`. */
  send(route: number, data: Uint8Array): Promise<void> {
    return this.calls.send(this.id, route, data);
  }
}

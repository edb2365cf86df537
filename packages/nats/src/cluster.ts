import { BimuxError, type Muxer, type RpcOptions } from "@bimux/core";
import { isAutomaticId, type PeerRegistry } from "@bimux/core/transport";
import { connect, nuid, type NatsConnection, type NodeConnectionOptions } from "@nats-io/transport-node";
import { Calls, checkTimeout } from "./calls.js";
import { Holder } from "./holder.js";
import { ClusterPeer } from "./peer.js";
import { Presence, type PeerLocation, type PresenceEvent } from "./presence.js";
import { Requests } from "./requests.js";
import { Subjects } from "./subjects.js";

/**
 * What {@link joinCluster} needs of a bimux server: its live peers, to share those already
 * there, and the registry's `join` and `leave` events, to follow those that come and go. Both
 * `@bimux/node`'s `serve` and `@bimux/bun`'s `bunServer` have it (their `peers` is core's
 * `PeerRegistry`). Structural, with only what the cluster uses, so that any server whose
 * `peers` has that shape joins.
 */
export interface ClusterServer {
  /** The server's live connections, and the registry's events about them. */
  readonly peers: Pick<PeerRegistry, "on"> & Iterable<Muxer>;
}

/** Options of {@link joinCluster}. */
export interface JoinClusterOptions {
  /**
   * The NATS connection to use, or the options to open one with. A connection given is
   * shared and left open by {@link Cluster.close}; one opened from options is the
   * cluster's, closed with it, and retries forever by default (`maxReconnectAttempts: -1`),
   * since a node without NATS is cut off from the cluster.
   */
  nats: NatsConnection | NodeConnectionOptions;
  /** This node's name in the cluster, unique among the nodes. Default: a random one. */
  node?: string;
  /** Prefix of every subject the cluster uses: clusters with different prefixes share a NATS server without meeting. Default `bimux`. */
  prefix?: string;
  /** Timeout of calls that name none, in ms (`Infinity` for none). Default 30 000, as a muxer's. */
  timeout?: number;
  /**
   * Which peers of this node the cluster reaches. Default: every peer with an id of its own,
   * that is any but the empty id and the `peer-<n>` names the servers (`serve`, `bunServer`)
   * give peers that `authenticate` did not name, which are only unique on their node.
   */
  share?: (muxer: Muxer, id: string) => boolean;
  /** Milliseconds between presence heartbeats. Default 1000. */
  heartbeat?: number;
  /** A node not heard from for this long is taken for dead and its peers leave. Default 3 heartbeats. */
  expireAfter?: number;
  /** How long a node waits for an answer to "who holds this id?" before taking it anyway. Default 1000. */
  claimTimeout?: number;
  /** Called with failures no caller waits on (a presence listener threw, say). Default `console.error`. */
  onError?: (error: BimuxError) => void;
}

/**
 * One bimux node's membership of a cluster of nodes joined over NATS: every peer
 * connected to any node with an id is reachable from all of them, by id.
 */
export interface Cluster {
  /** This node's name in the cluster. */
  readonly node: string;
  /** The NATS connection the cluster runs on. */
  readonly nats: NatsConnection;
  /**
   * Calls the handler for `route` of peer `id`, wherever it is connected, and resolves to its reply.
   * Rejects with a {@link BimuxError}: `unavailable` at once when no node holds the peer;
   * `timeout` past the deadline (which travels with the call: the holding node calls the
   * peer with what is left of it); `aborted` when `signal` aborts (the peer's handler sees
   * its signal abort); `too_large` above the NATS server's `max_payload`; the peer's own
   * error with its code (`remote`, `not_found`, …, with `remote` set); `closed` when the
   * peer's connection ended during the call; `invalid_argument` for a bad route or data.
   */
  rpc(id: string, route: number, data: Uint8Array, options?: RpcOptions): Promise<Uint8Array>;
  /**
   * Sends a one-way message to peer `id` on `route`. Resolves once the holding node has
   * written it to the peer; rejects as {@link rpc} does, `unavailable` when nobody holds it.
   */
  send(id: string, route: number, data: Uint8Array): Promise<void>;
  /** A handle on peer `id`, usable where a `Muxer` is expected for calls (`rpc`, `send`). */
  peer(id: string): ClusterPeer;
  /** The peers reachable anywhere in the cluster, with their node, as this node knows them now. */
  peers(): PeerLocation[];
  /** The nodes holding `id` as far as this node knows: one, none, or two during a race on the id. */
  locate(id: string): string[];
  /** The nodes in the cluster, this one first. */
  nodes(): string[];
  /**
   * Calls `listener` when a peer becomes reachable on a node (`join`) or stops being reachable
   * there (`leave`: it disconnected, or its node left or died). Returns a function that removes
   * the listener. Peers already there are not replayed: read {@link peers} first.
   */
  on(event: PresenceEvent, listener: (peer: PeerLocation) => void): () => void;
  /**
   * Leaves the cluster: this node's peers stop being reachable from the others (they stay
   * connected here), the others are told at once, and calls in flight through NATS reject
   * with `unavailable`. Closes the NATS connection if the cluster opened it.
   */
  close(): Promise<void>;
}

/** The default {@link JoinClusterOptions.share}: peers with ids of their own. */
const named = (_muxer: Muxer, id: string): boolean => id !== "" && !isAutomaticId(id);

/**
 * Joins `server` (`@bimux/node`'s `serve`, `@bimux/bun`'s `bunServer`: see {@link ClusterServer})
 * to the cluster on NATS: each peer that connects to it with an id becomes reachable from
 * every node, until it disconnects or this node leaves or dies, and this node can reach the
 * peers of every other. Nodes of either runtime share a cluster.
 *
 * ```ts
 * const server = await serve({ port: 8080, authenticate });
 * const cluster = await joinCluster(server, { nats: { servers: "nats://127.0.0.1:4222" } });
 * const reply = await cluster.rpc("agent-7", 1, data, { timeout: 5000 }); // agent-7 may be on any node
 * ```
 */
export async function joinCluster(server: ClusterServer, options: JoinClusterOptions): Promise<Cluster> {
  const timeout = checkTimeout(options.timeout ?? 30_000);
  const heartbeat = checkTimeout(options.heartbeat ?? 1000, "heartbeat");
  const expireAfter = checkTimeout(options.expireAfter ?? heartbeat * 3, "expireAfter");
  const claimTimeout = checkTimeout(options.claimTimeout ?? 1000, "claimTimeout");
  const subjects = new Subjects(options.prefix ?? "bimux");
  const node = options.node ?? `node-${nuid.next()}`;
  if (node === "") throw new BimuxError("invalid_argument", "node must not be empty");
  const share = options.share ?? named;
  const report = (error: BimuxError): void => {
    if (options.onError) options.onError(error);
    else console.error(`bimux cluster: ${error.message}`);
  };

  const owned = !isConnection(options.nats);
  let nc: NatsConnection;
  try {
    nc = isConnection(options.nats) ? options.nats : await connect({ maxReconnectAttempts: -1, name: `bimux ${node}`, ...options.nats });
  } catch (error) {
    throw new BimuxError("unavailable", `could not connect to NATS: ${BimuxError.from(error).rawMessage}`, { cause: error });
  }
  const requests = new Requests(nc);
  let calls: Calls | undefined;
  const maxMessage = (): number => calls!.maxMessage;
  let presence: Presence | undefined;
  const holder = new Holder(
    nc,
    requests,
    subjects,
    node,
    { mark: () => presence!.mark(), taken: (id, since, mark) => presence!.taken(id, since, mark), released: (id) => presence!.released(id) },
    maxMessage,
    claimTimeout,
    report,
  );
  calls = new Calls(nc, requests, subjects, (id) => holder.get(id), (id) => presence!.locate(id), timeout);
  presence = new Presence(
    nc,
    requests,
    subjects,
    node,
    { interval: heartbeat, expireAfter },
    {
      conflict: (id, at, since) => holder.conflict(id, at, since),
      // Calls a dead node had in hand fail now, with the code a call to nobody gets.
      dropped: (gone) => requests.failNode(gone, new BimuxError("unavailable", `node "${gone}" left or stopped answering before it replied`)),
      report,
    },
    maxMessage,
  );
  presence.start();

  // The peers already here, then those that come and go.
  const offJoin = server.peers.on("join", (muxer, id) => share(muxer, id) && holder.join(muxer, id));
  const offLeave = server.peers.on("leave", (muxer, id) => holder.leave(muxer, id));
  for (const muxer of server.peers) if (share(muxer, muxer.id)) holder.join(muxer, muxer.id);

  // After NATS comes back the others may have expired this node: greet them so they fetch its list now.
  void (async () => {
    for await (const status of nc.status()) if (status.type === "reconnect") presence.greet();
  })().catch((error: unknown) => report(BimuxError.from(error)));

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    offJoin();
    offLeave();
    holder.close();
    presence.close();
    requests.close(new BimuxError("unavailable", `node "${node}" left the cluster`));
    if (owned) await nc.close();
    else await nc.flush().catch(() => undefined);
  };

  const cluster: Cluster = {
    node,
    nats: nc,
    rpc: (id, route, data, rpcOptions) => calls.rpc(id, route, data, rpcOptions),
    send: (id, route, data) => calls.send(id, route, data),
    peer: (id) => new ClusterPeer(id, cluster),
    peers: () => presence.peers(),
    locate: (id) => presence.locate(id),
    nodes: () => presence.members(),
    on: (event, listener) => presence.on(event, listener),
    close: () => (closing ??= close()),
  };
  // A connection closed under the cluster (a shared one its owner closed, or one that gave up
  // reconnecting) ends it: no heartbeat is left to send, and calls would only fail.
  void nc.closed().then(() => cluster.close());
  return cluster;
}

/** True when `nats` is a connection rather than options to open one. */
function isConnection(nats: NatsConnection | NodeConnectionOptions): nats is NatsConnection {
  return typeof (nats as NatsConnection).publish === "function" && typeof (nats as NatsConnection).subscribe === "function";
}

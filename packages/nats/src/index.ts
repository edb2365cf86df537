// bimux across nodes over NATS: joinCluster makes every peer of every node reachable by id.
export { joinCluster } from "./cluster.js";
export type { Cluster, ClusterServer, JoinClusterOptions } from "./cluster.js";
export { ClusterPeer } from "./peer.js";
export type { Caller } from "./peer.js";
export type { PeerLocation, PresenceEvent } from "./presence.js";
export { ID_IN_USE } from "./holder.js";

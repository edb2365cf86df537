import type { IncomingMessage } from "node:http";
import { performance } from "node:perf_hooks";
import type { Muxer } from "@bimux/core";
import type { PeerRegistry } from "@bimux/core/transport";
import type WebSocket from "ws";
import { logClose, logConnect } from "../log.js";

/** What a server knows about one connected peer beyond its muxer, for dashboards and logs. */
export interface PeerInfo {
  /** The peer's address, as the server's socket saw it (a proxy's, behind one). */
  readonly remoteAddress: string;
  /** The peer's port. */
  readonly remotePort: number;
  /** When the connection was accepted, in milliseconds since the epoch. */
  readonly connectedAt: number;
  /** The last round-trip time {@link measureRtt} found, in milliseconds, if any. */
  readonly rtt: number | undefined;
}

/** What happened to a server's peers, as {@link watchPeers} reports it. */
export type PeerEvent = "connect" | "close";

interface Tracked {
  remoteAddress: string;
  remotePort: number;
  connectedAt: number;
  rtt: number | undefined;
  ws: WebSocket;
  probing: Promise<number | undefined> | undefined;
}

// Kept beside the muxer rather than in it: core knows nothing of sockets or requests.
// Weak, so a closed peer's entry goes with its muxer.
const tracked = new WeakMap<Muxer, Tracked>();
const watchers = new WeakMap<PeerRegistry, Set<(event: PeerEvent, muxer: Muxer) => void>>();

/** @internal The server accepted `muxer`: note where it came from, log it, tell the watchers. */
export function track(peers: PeerRegistry, muxer: Muxer, ws: WebSocket, request: IncomingMessage): void {
  tracked.set(muxer, {
    remoteAddress: request.socket.remoteAddress ?? "",
    remotePort: request.socket.remotePort ?? 0,
    connectedAt: Date.now(),
    rtt: undefined,
    ws,
    probing: undefined,
  });
  logConnect(muxer, request);
  notify(peers, "connect", muxer);
}

/** @internal The server's `onClose` for `muxer`: log how it ended, tell the watchers. */
export function untrack(peers: PeerRegistry, muxer: Muxer): void {
  logClose(muxer, muxer.closeDetails);
  notify(peers, "close", muxer);
}

function notify(peers: PeerRegistry, event: PeerEvent, muxer: Muxer): void {
  const set = watchers.get(peers);
  if (!set) return;
  for (const listener of set) {
    try {
      listener(event, muxer);
    } catch {
      // A watcher (a dashboard) must not break the server's accept or close path.
    }
  }
}

/** Where a peer of a {@link serve} server came from and when; undefined for a muxer no server accepted. */
export function peerInfo(muxer: Muxer): PeerInfo | undefined {
  const entry = tracked.get(muxer);
  if (!entry) return undefined;
  const { remoteAddress, remotePort, connectedAt, rtt } = entry;
  return { remoteAddress, remotePort, connectedAt, rtt };
}

/**
 * Calls `listener` whenever a peer connects to or leaves the server whose registry
 * is `peers` (`server.peers`). Unlike iterating `server.connections`, it takes no
 * connection away from the application. Returns what stops it.
 */
export function watchPeers(peers: PeerRegistry, listener: (event: PeerEvent, muxer: Muxer) => void): () => void {
  let set = watchers.get(peers);
  if (!set) watchers.set(peers, (set = new Set()));
  const own = set;
  const entry = (event: PeerEvent, muxer: Muxer) => listener(event, muxer);
  own.add(entry);
  return () => void own.delete(entry);
}

/**
 * Measures the round trip to a peer with a WebSocket ping, which every client
 * answers by itself (browsers even while their page is busy): no route, no handler,
 * nothing in core. Resolves to milliseconds, or undefined if no pong comes within
 * `timeout` or the peer is not a connection of a {@link serve} server. Concurrent
 * calls share one ping.
 */
export function measureRtt(muxer: Muxer, timeout = 2000): Promise<number | undefined> {
  const entry = tracked.get(muxer);
  if (!entry || muxer.closed) return Promise.resolve(undefined);
  return (entry.probing ??= new Promise<number | undefined>((resolve) => {
    const { ws } = entry;
    const started = performance.now();
    const done = (rtt: number | undefined) => {
      clearTimeout(timer);
      ws.off("pong", onPong);
      ws.off("close", onGone);
      entry.probing = undefined;
      if (rtt !== undefined) entry.rtt = rtt;
      resolve(rtt);
    };
    const onPong = () => done(performance.now() - started);
    const onGone = () => done(undefined);
    const timer = setTimeout(onGone, timeout);
    ws.on("pong", onPong);
    ws.on("close", onGone);
    try {
      ws.ping();
    } catch {
      onGone();
    }
  }));
}

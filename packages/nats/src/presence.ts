import { BimuxError } from "@bimux/core";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Requests } from "./requests.js";
import type { Subjects } from "./subjects.js";

/** Where a peer is connected: its id and the node holding it. */
export interface PeerLocation {
  /** The peer's id (its `Muxer.id` on the node it is connected to). */
  readonly id: string;
  /** The node holding it: {@link Cluster.node} of that node. */
  readonly node: string;
}

/** What presence tells: a peer became reachable somewhere (`join`), or stopped being reachable there (`leave`). */
export type PresenceEvent = "join" | "leave";

/** Timing of presence. */
export interface PresenceTiming {
  /** Milliseconds between a node's heartbeats. */
  interval: number;
  /** A node not heard from for this long is taken for dead, and its peers leave. */
  expireAfter: number;
}

/** One node's peers as this node knows them, and how far its numbering of changes is. */
interface NodeRecord {
  version: number;
  /** Its peers: since when the node holds each, and when this node learned of it (a {@link Presence.mark}). */
  peers: Map<string, { since: number; learned: number }>;
  /** performance.now() when the node was last heard from. */
  heard: number;
  /** The version its last heartbeat gave. */
  beat: number;
  syncing: boolean;
}

type Entry = [id: string, since: number];

interface Change {
  node: string;
  from: number;
  to: number;
  joins: Entry[];
  leaves: string[];
}

interface Page {
  version: number;
  peers: Entry[];
  next: number | null;
}

/** What presence needs from the rest of the cluster. */
export interface PresenceHooks {
  /** Another node announced `id`, which this node may hold too: the holder decides who keeps it. */
  conflict(id: string, node: string, since: number): void;
  /** `node` is gone (it left, or missed its heartbeats): nothing it held will answer any more. */
  dropped(node: string): void;
  report(error: BimuxError): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
/** An upper bound of the bytes an id and its time take in JSON: an escaped character takes up to 6 bytes (\uXXXX). */
const entrySize = (id: string): number => id.length * 6 + 24;
/** Changes per announcement at most, so that a receiver applies a burst in slices rather than in one long task. */
const CHANGES_PER_MESSAGE = 500;

/**
 * Who is connected where, over core NATS alone (no JetStream: nats-server 2.9 has no
 * per-key TTL, and a stream is state to run and size). Each node is the authority on its
 * own peers and numbers every change of them; the others keep a copy:
 *
 * - a node publishes its joins and leaves as they happen (`change`, numbered from → to);
 * - it beats every `interval` with its number (`beat`): a node whose copy is behind, or
 *   that missed a change (a gap in the numbers), asks for the full list (`snapshot`, paged);
 * - a node not heard from for `expireAfter` is dead: its peers leave. A node that leaves
 *   says so (`bye`), and its peers leave at once;
 * - a node that (re)connects says `hello`, and every node beats at once, so it learns
 *   the cluster in one round trip rather than one interval.
 *
 * The copies converge within one interval of any lost message; the routing of calls does
 * not depend on them (a call goes to the peer's subject, answered by whoever holds it).
 */
export class Presence {
  private readonly nodes = new Map<string, NodeRecord>();
  /** This node's peers, with when it took them. */
  private readonly mine = new Map<string, number>();
  /** Counts what this node learns of other nodes' peers: see {@link mark}. */
  private learned = 0;
  private readonly listeners: Record<PresenceEvent, Set<(peer: PeerLocation) => void>> = { join: new Set(), leave: new Set() };
  private version = 0;
  /** Local changes not yet announced: since when an id is held, or null when it was released. */
  private pending = new Map<string, number | null>();
  private flushing = false;
  private snapshotCache: { version: number; entries: Entry[] } | undefined;
  private readonly subs: Subscription[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly requests: Requests,
    private readonly subjects: Subjects,
    private readonly node: string,
    private readonly timing: PresenceTiming,
    private readonly hooks: PresenceHooks,
    private readonly maxMessage: () => number,
  ) {}

  /** Starts listening and beating, and asks every node to beat now. */
  start(): void {
    this.subs.push(
      this.nc.subscribe(`${this.subjects.prefix}.presence.*`, { callback: (error, msg) => void (error ?? this.receive(msg)) }),
      this.nc.subscribe(this.subjects.snapshot(this.node), { callback: (error, msg) => void (error ?? this.answerSnapshot(msg)) }),
    );
    this.timer = setInterval(() => this.tick(), this.timing.interval);
    this.timer.unref();
    this.greet();
  }

  /** Says hello and beats: on start, and after NATS came back, when the others may have given this node up. */
  greet(): void {
    this.publish(this.subjects.hello, { node: this.node });
    this.beat();
  }

  /** Every peer reachable in the cluster, this node's included. */
  peers(): PeerLocation[] {
    const all: PeerLocation[] = [];
    for (const id of this.mine.keys()) all.push({ id, node: this.node });
    for (const [node, record] of this.nodes) for (const id of record.peers.keys()) all.push({ id, node });
    return all;
  }

  /** The nodes holding `id`, as far as this node knows: one, or briefly two in a race, or none. */
  locate(id: string): string[] {
    const nodes: string[] = [];
    if (this.mine.has(id)) nodes.push(this.node);
    for (const [node, record] of this.nodes) if (record.peers.has(id)) nodes.push(node);
    return nodes;
  }

  /** The nodes heard from within `expireAfter`, this one first. */
  members(): string[] {
    return [this.node, ...this.nodes.keys()];
  }

  /** Calls `listener` on each join or leave anywhere in the cluster; returns a function that removes it. */
  on(event: PresenceEvent, listener: (peer: PeerLocation) => void): () => void {
    const entry = (peer: PeerLocation): void => listener(peer);
    this.listeners[event].add(entry);
    return () => void this.listeners[event].delete(entry);
  }

  /** A point in what this node has learned: taken before a claim goes out, given back to {@link taken}. */
  mark(): number {
    return this.learned;
  }

  /**
   * This node now holds `id`, after a claim sent at `mark` that no node answered. Another
   * node listed for `id` since before the claim is stale (a node that just died, whose list
   * has not expired yet): it is dropped. One learned of after the claim went out took the
   * id during the claim: a race, which the holders settle (the newer claim closes its peer).
   */
  taken(id: string, since: number, mark: number): void {
    this.mine.set(id, since);
    this.local(id, since);
    this.emit("join", { id, node: this.node });
    for (const [node, record] of this.nodes) {
      const entry = record.peers.get(id);
      if (!entry) continue;
      if (entry.learned > mark) this.hooks.conflict(id, node, entry.since);
      else {
        record.peers.delete(id);
        this.emit("leave", { id, node });
      }
    }
  }

  /** This node no longer holds `id`. */
  released(id: string): void {
    if (!this.mine.delete(id)) return;
    this.local(id, null);
    this.emit("leave", { id, node: this.node });
  }

  /** Says bye, stops beating and listening. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.flush();
    this.publish(this.subjects.bye, { node: this.node });
    for (const sub of this.subs) sub.unsubscribe();
    for (const node of [...this.nodes.keys()]) this.drop(node);
  }

  private local(id: string, since: number | null): void {
    this.pending.set(id, since);
    if (this.flushing) return;
    this.flushing = true;
    // Joins and leaves of one burst (a node starting, a network blip) go out in few messages.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushing = false;
    if (this.pending.size === 0) return;
    const pending = this.pending;
    this.pending = new Map();
    // Each announcement stays within half of max_payload (whatever the ids' lengths) and CHANGES_PER_MESSAGE.
    const budget = this.maxMessage() / 2;
    let change: Change | undefined;
    let size = 0;
    for (const [id, since] of pending) {
      const cost = entrySize(id);
      if (change && (size + cost > budget || change.joins.length + change.leaves.length >= CHANGES_PER_MESSAGE)) {
        this.publish(this.subjects.change, change);
        change = undefined;
      }
      if (!change) {
        change = { node: this.node, from: this.version, to: ++this.version, joins: [], leaves: [] };
        size = 128 + this.node.length;
      }
      size += cost;
      if (since === null) change.leaves.push(id);
      else change.joins.push([id, since]);
    }
    if (change) this.publish(this.subjects.change, change);
  }

  private beat(): void {
    this.flush();
    this.publish(this.subjects.beat, { node: this.node, version: this.version });
  }

  private tick(): void {
    this.beat();
    const now = performance.now();
    for (const [node, record] of this.nodes) if (now - record.heard > this.timing.expireAfter) this.drop(node);
  }

  private publish(subject: string, value: unknown): void {
    try {
      this.nc.publish(subject, json(value));
    } catch (error) {
      // Closed: the others expire this node. Disconnected, the client buffers it until it is back.
      if (!this.closed) this.hooks.report(BimuxError.from(error, "unavailable"));
    }
  }

  private receive(msg: Msg): void {
    let body: { node?: unknown };
    try {
      body = msg.json();
    } catch {
      return; // Not ours: someone else's message under our prefix.
    }
    const node = body.node;
    if (typeof node !== "string" || node === this.node) return;
    const kind = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
    if (kind === "hello") return this.beat();
    if (kind === "bye") return this.drop(node);
    const record = this.nodes.get(node);
    if (kind === "beat") {
      const version = (body as { version?: unknown }).version;
      if (typeof version !== "number") return;
      const known = record ?? this.record(node);
      known.heard = performance.now();
      known.beat = version;
      if (version !== known.version) void this.sync(node);
    } else if (kind === "change") {
      const change = body as Change;
      if (!Array.isArray(change.joins) || !Array.isArray(change.leaves)) return;
      const known = record ?? this.record(node);
      known.heard = performance.now();
      if (change.from === known.version) this.apply(node, known, change);
      else if (change.to > known.version) void this.sync(node); // a gap: a change was lost
    }
  }

  private record(node: string): NodeRecord {
    const record: NodeRecord = { version: 0, peers: new Map(), heard: performance.now(), beat: 0, syncing: false };
    this.nodes.set(node, record);
    return record;
  }

  private apply(node: string, record: NodeRecord, change: Change): void {
    record.version = change.to;
    for (const id of change.leaves) if (record.peers.delete(id)) this.emit("leave", { id, node });
    for (const [id, since] of change.joins) this.join(node, record, id, since);
  }

  private join(node: string, record: NodeRecord, id: string, since: number): void {
    const known = record.peers.has(id);
    record.peers.set(id, { since, learned: ++this.learned });
    this.hooks.conflict(id, node, since);
    if (!known) this.emit("join", { id, node });
  }

  /** Replaces the copy of `node`'s peers by its full list, fetched a page at a time. */
  private async sync(node: string): Promise<void> {
    const record = this.nodes.get(node);
    if (!record || record.syncing || this.closed) return;
    record.syncing = true;
    try {
      const pages = await this.fetchSnapshot(node);
      if (!pages || this.nodes.get(node) !== record) return;
      // Changes that came in while fetching may already have brought the copy further.
      if (pages.version < record.version) return;
      const peers = new Map(pages.peers);
      for (const id of record.peers.keys()) {
        if (!peers.has(id)) {
          record.peers.delete(id);
          this.emit("leave", { id, node });
        }
      }
      for (const [id, since] of peers) if (record.peers.get(id)?.since !== since) this.join(node, record, id, since);
      record.version = pages.version;
      record.heard = performance.now();
    } catch (error) {
      // Unreachable meanwhile (it died, NATS is down): the next beat tries again, or the node expires.
      const code = (error as BimuxError).code;
      if (code !== "unavailable" && code !== "timeout") this.hooks.report(BimuxError.from(error));
    } finally {
      record.syncing = false;
    }
  }

  /** A node's list, all pages at one version; undefined when it kept changing under three tries. */
  private async fetchSnapshot(node: string): Promise<Page | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const entries: Entry[] = [];
      let version: number | undefined;
      let offset: number | null = 0;
      // Bounded: each page carries at least one entry, and a changed version starts over.
      while (offset !== null) {
        const msg = await this.requests.request(this.subjects.snapshot(node), json({ offset }), undefined, {
          timeout: this.timing.interval * 2,
          what: `snapshot of node "${node}"`,
        });
        const page = msg.json<Page>();
        if (version !== undefined && page.version !== version) break;
        // A page must move forward, or a confused node would keep this loop asking forever.
        if (page.next !== null && !(page.next > offset)) return undefined;
        version = page.version;
        entries.push(...page.peers);
        offset = page.next;
      }
      if (offset === null && version !== undefined) return { version, peers: entries, next: null };
    }
    return undefined;
  }

  private answerSnapshot(msg: Msg): void {
    if (!msg.reply) return;
    let offset = 0;
    try {
      offset = Number((JSON.parse(decoder.decode(msg.data)) as { offset?: unknown }).offset) || 0;
    } catch {
      return;
    }
    // Pending changes are announced first, so that the list and the numbering agree.
    this.flush();
    if (this.snapshotCache?.version !== this.version) this.snapshotCache = { version: this.version, entries: [...this.mine] };
    const { entries } = this.snapshotCache;
    const budget = this.maxMessage() / 2;
    const page: Entry[] = [];
    let size = 64;
    let i = offset;
    for (; i < entries.length; i++) {
      const entry = entries[i]!;
      size += entrySize(entry[0]);
      if (page.length > 0 && size > budget) break;
      page.push(entry);
    }
    const reply: Page = { version: this.version, peers: page, next: i < entries.length ? i : null };
    try {
      msg.respond(json(reply));
    } catch {
      // Closed meanwhile: the asker tries again at the next beat.
    }
  }

  private drop(node: string): void {
    const record = this.nodes.get(node);
    if (!record) return;
    this.nodes.delete(node);
    for (const id of record.peers.keys()) this.emit("leave", { id, node });
    this.hooks.dropped(node);
  }

  private emit(event: PresenceEvent, peer: PeerLocation): void {
    for (const listener of this.listeners[event]) {
      try {
        listener(peer);
      } catch (error) {
        this.hooks.report(BimuxError.from(error));
      }
    }
  }
}

import type { Muxer, MuxerOptions } from "../muxer/muxer.js";
import { Close } from "../wire/close-codes.js";

// The live connections of a server, by id: shared by the servers of every runtime
// (`@bimux/node`'s `serve`, `@bimux/bun`'s `bunServer`), so that an id means one connection
// on each of them alike, and whatever follows a server's peers (`@bimux/nats`'s cluster)
// follows any of them. Runtime-free: it only holds muxers and closes the loser of an id.

/** What a {@link PeerRegistry} tells its listeners: a muxer took an id, or stopped answering to one. */
export type PeerEvent = "join" | "leave";

/**
 * Called with the muxer and the id it took (`join`) or gave up (`leave`). On a `leave`
 * after a rename, `muxer.id` is already the new id: `id` is the one it left.
 */
export type PeerListener = (muxer: Muxer, id: string) => void;

/**
 * What happens when a connection takes an id a live connection already has:
 * - `"refuse"` (the default): the newcomer is turned away (HTTP 409 when the id comes
 *   from `authenticate`, close 1008 when the application sets it), the live one keeps it;
 * - `"replace"`: the newcomer takes the id and the older connection is closed with 1008.
 *   Meant for ids that `authenticate` vouches for, where a newer connection of the same
 *   peer (a reloaded tab, a reconnecting agent) should win over one that is going away.
 */
export type DuplicateIdPolicy = "refuse" | "replace";

/** The ids a registry gives connections nobody named (see {@link PeerRegistry.idFor}). */
const AUTOMATIC_ID = /^peer-\d+$/;

/**
 * True for an id a server's registry made up for a connection nobody named (`peer-<n>`):
 * unique on that server only, so that what spans servers (a cluster) leaves it alone.
 */
export function isAutomaticId(id: string): boolean {
  return AUTOMATIC_ID.test(id);
}

/**
 * Live connections of a server by {@link Muxer.id}. It follows id changes and
 * forgets a muxer when its connection ends. An id names at most one live connection:
 * a second connection never silently takes another's place (see {@link DuplicateIdPolicy}).
 * The empty id names nobody: connections without a name are live, but not found by id.
 *
 * Listeners ({@link on}) hear every muxer that takes an id (`join`: it connected, or
 * its id changed to this one) and every one that gives one up (`leave`: it closed, or
 * its id changed away), so that something outside the server, a cluster say, can
 * follow who is here without polling. When a newer connection replaces an older one,
 * the older one's `leave` comes first.
 */
export class PeerRegistry implements Iterable<Muxer> {
  private readonly byId = new Map<string, Muxer>();
  private readonly live = new Set<Muxer>();
  private readonly listeners: Record<PeerEvent, Set<PeerListener>> = { join: new Set(), leave: new Set() };
  private lastAutomatic = 0;

  /**
   * @param policy what a connection taking a live id gets; the registry closes whoever loses.
   * @param report gets what a listener throws: a failing listener must not keep the registry,
   * or the others, from learning of a connection. Default: `console.error`.
   */
  constructor(
    private readonly policy: DuplicateIdPolicy = "refuse",
    private readonly report: (error: unknown) => void = (error) => console.error("bimux: a peer registry listener threw", error),
  ) {}

  /** How many connections are live. */
  get size(): number {
    return this.live.size;
  }

  /** The live muxer with this id, if any. */
  get(id: string): Muxer | undefined {
    return this.byId.get(id);
  }

  /** True if a live muxer has this id. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Every live muxer. */
  [Symbol.iterator](): Iterator<Muxer> {
    return this.live.values();
  }

  /**
   * Calls `listener` after each `join` (a muxer connected, or took this id by a rename) or
   * `leave` (it closed, or its id changed away), once the registry is up to date. Muxers
   * already live are not replayed: iterate the registry first. Returns a function that
   * removes the listener. A listener's throw goes to the registry's `report` (the server's `onError`).
   */
  on(event: PeerEvent, listener: PeerListener): () => void {
    const set = this.listeners[event];
    // A fresh wrapper per call: the same function added twice is removed once per unsubscribe.
    const entry: PeerListener = (muxer, id) => listener(muxer, id);
    set.add(entry);
    return () => void set.delete(entry);
  }

  // The methods below are the owning server's, not the application's. They are public
  // because the servers that own a registry live in other packages (@bimux/node, @bimux/bun),
  // which build against this package's published types: hidden ones would be stripped there.

  /**
   * For the server that owns the registry: `options` for every muxer it makes, with the hooks
   * through which the registry follows them: each id change ({@link rename}; the application's
   * `onIdChange` hears only those that held), and each close (the muxer is forgotten, then
   * `closed` runs, then the application's `onClose`). Made once per server: one object, and no
   * closure per connection.
   */
  following(options: MuxerOptions, closed?: (muxer: Muxer) => void): MuxerOptions {
    return {
      ...options,
      onIdChange: (muxer, previous) => {
        if (this.rename(muxer, previous)) options.onIdChange?.(muxer, previous);
      },
      onClose: (muxer) => {
        this.remove(muxer);
        closed?.(muxer);
        options.onClose?.(muxer);
      },
    };
  }

  /**
   * For the server that owns the registry: the id a new connection starts with, the one
   * `authenticate` gave it, or else `peer-<n>`, unique on this server only (see {@link isAutomaticId}).
   */
  idFor(id: string | undefined): string {
    return id ?? `peer-${++this.lastAutomatic}`;
  }

  /**
   * For the server that owns the registry: true when a new connection may take `id` now.
   * A server asks before upgrading, to refuse an id `authenticate` vouched for (409) while
   * no WebSocket exists yet; {@link add} decides again once it does.
   */
  available(id: string): boolean {
    return this.policy === "replace" || !this.byId.has(id);
  }

  /**
   * For the server that owns the registry: registers a new connection under its current id.
   * False, and the muxer is closed with 1008, when a live connection has that id and the
   * policy refuses; under `"replace"` the live one is closed instead.
   */
  add(muxer: Muxer): boolean {
    if (!this.take(muxer)) return this.refuse(muxer);
    this.live.add(muxer);
    this.emit("join", muxer, muxer.id);
    return true;
  }

  /**
   * For the server that owns the registry, from its muxers' `onIdChange`: follows a change of
   * id from `previous`. False if the muxer is not registered, or may not take its new id (it
   * is then closed with 1008, and has left).
   */
  rename(muxer: Muxer, previous: string): boolean {
    if (!this.live.has(muxer)) return false;
    if (this.byId.get(previous) === muxer) this.byId.delete(previous);
    this.emit("leave", muxer, previous);
    if (this.take(muxer)) {
      this.emit("join", muxer, muxer.id);
      return true;
    }
    // Refused: it has left already, under its old id. Forgotten before it is closed: a muxer's
    // close calls the server's onClose, and so remove(), at once, which would tell of a second
    // leave, under the id the live holder keeps.
    this.live.delete(muxer);
    return this.refuse(muxer);
  }

  /** For the server that owns the registry, from its muxers' `onClose`: forgets `muxer`. Twice is once. */
  remove(muxer: Muxer): void {
    if (!this.live.delete(muxer)) return;
    if (this.byId.get(muxer.id) === muxer) this.byId.delete(muxer.id);
    this.emit("leave", muxer, muxer.id);
  }

  private emit(event: PeerEvent, muxer: Muxer, id: string): void {
    for (const listener of this.listeners[event]) {
      try {
        listener(muxer, id);
      } catch (error) {
        this.report(error);
      }
    }
  }

  /** Closes a muxer refused its id (which the caller has forgotten already); false, for the caller to return. */
  private refuse(muxer: Muxer): false {
    muxer.close(Close.POLICY_VIOLATION, `id ${JSON.stringify(muxer.id)} is in use by a live connection`);
    return false;
  }

  /**
   * Files `muxer` under its id, as the policy says: false when the policy refuses it (the caller
   * closes it, once it is forgotten); under "replace", the holder is forgotten, then closed.
   */
  private take(muxer: Muxer): boolean {
    const { id } = muxer;
    // "" is no name: any number of connections may go without one.
    if (id === "") return true;
    const holder = this.byId.get(id);
    if (holder && holder !== muxer) {
      if (this.policy === "refuse") return false;
      this.remove(holder);
      holder.close(Close.POLICY_VIOLATION, `id ${JSON.stringify(id)} was taken by a newer connection`);
    }
    this.byId.set(id, muxer);
    return true;
  }
}

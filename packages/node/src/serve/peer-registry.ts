import type { Muxer } from "@bimux/core";

/** What a {@link PeerRegistry} tells its listeners: a muxer took an id, or stopped answering to one. */
export type PeerEvent = "join" | "leave";

/**
 * Called with the muxer and the id it took (`join`) or gave up (`leave`). On a `leave`
 * after a rename, `muxer.id` is already the new id: `id` is the one it left.
 */
export type PeerListener = (muxer: Muxer, id: string) => void;

/**
 * Live connections of a server by {@link Muxer.id}. It follows id changes and
 * forgets a muxer when its connection ends. Should two live muxers take the same
 * id, the one that took it last is the one found, and once it is gone, the other.
 *
 * Listeners ({@link on}) hear every muxer that takes an id (`join`: it connected, or
 * its id changed to this one) and every one that gives one up (`leave`: it closed, or
 * its id changed away), so that something outside the server, a cluster say, can
 * follow who is here without polling.
 */
export class PeerRegistry implements Iterable<Muxer> {
  private readonly byId = new Map<string, Muxer>();
  private readonly live = new Set<Muxer>();
  // Ids two or more live muxers have taken, with those muxers in the order they took it:
  // only for these does losing the holder mean looking for another. Never the default "":
  // every anonymous connection has it, and a close must not walk them all.
  private readonly shared = new Map<string, Set<Muxer>>();
  private readonly listeners: Record<PeerEvent, Set<PeerListener>> = { join: new Set(), leave: new Set() };
  private readonly report: (error: unknown) => void;

  /**
   * @param report gets what a listener throws: a failing listener must not keep the
   * registry, or the others, from learning of a connection. Default: `console.error`.
   */
  constructor(report: (error: unknown) => void = (error) => console.error("bimux: a peer registry listener threw", error)) {
    this.report = report;
  }

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
   * removes the listener. A listener's throw goes to the registry's `report` (serve's `onError`).
   */
  on(event: PeerEvent, listener: PeerListener): () => void {
    const set = this.listeners[event];
    // A fresh wrapper per call: the same function added twice is removed once per unsubscribe.
    const entry: PeerListener = (muxer, id) => listener(muxer, id);
    set.add(entry);
    return () => void set.delete(entry);
  }

  /** @internal */
  add(muxer: Muxer): void {
    this.live.add(muxer);
    this.take(muxer);
    this.emit("join", muxer, muxer.id);
  }

  /** @internal Follows an id change; false if the muxer is not (yet) registered. */
  rename(muxer: Muxer, previous: string): boolean {
    if (!this.live.has(muxer)) return false;
    this.release(previous, muxer);
    this.take(muxer);
    this.emit("leave", muxer, previous);
    this.emit("join", muxer, muxer.id);
    return true;
  }

  /** @internal */
  remove(muxer: Muxer): void {
    if (!this.live.delete(muxer)) return;
    this.release(muxer.id, muxer);
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

  private take(muxer: Muxer): void {
    const id = muxer.id;
    const holder = this.byId.get(id);
    if (holder && holder !== muxer && id !== "") {
      let holders = this.shared.get(id);
      if (!holders) this.shared.set(id, (holders = new Set([holder])));
      holders.add(muxer);
    }
    this.byId.set(id, muxer);
  }

  /** `muxer` no longer answers to `id`: the newest other muxer with that id takes over, if there is one. */
  private release(id: string, muxer: Muxer): void {
    const holders = this.shared.get(id);
    holders?.delete(muxer);
    if (this.byId.get(id) !== muxer) return;
    this.byId.delete(id);
    if (!holders) return;
    let newest: Muxer | undefined;
    for (const other of holders) newest = other;
    if (newest) this.byId.set(id, newest);
    if (holders.size < 2) this.shared.delete(id);
  }
}

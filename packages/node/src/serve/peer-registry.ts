import type { Muxer } from "@bimux/core";

/**
 * Live connections of a server by {@link Muxer.id}. It follows id changes and
 * forgets a muxer when its connection ends. Should two live muxers take the same
 * id, the one that took it last is the one found, and once it is gone, the other.
 */
export class PeerRegistry implements Iterable<Muxer> {
  private readonly byId = new Map<string, Muxer>();
  private readonly live = new Set<Muxer>();
  // Ids two or more live muxers have taken, with those muxers in the order they took it:
  // only for these does losing the holder mean looking for another. Never the default "":
  // every anonymous connection has it, and a close must not walk them all.
  private readonly shared = new Map<string, Set<Muxer>>();

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

  /** @internal */
  add(muxer: Muxer): void {
    this.live.add(muxer);
    this.take(muxer);
  }

  /** @internal Follows an id change; false if the muxer is not (yet) registered. */
  rename(muxer: Muxer, previous: string): boolean {
    if (!this.live.has(muxer)) return false;
    this.release(previous, muxer);
    this.take(muxer);
    return true;
  }

  /** @internal */
  remove(muxer: Muxer): void {
    this.live.delete(muxer);
    this.release(muxer.id, muxer);
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

import type { Muxer } from "@bimux/core";

/**
 * Live connections of a server by {@link Muxer.id}. It follows id changes and
 * forgets a muxer when its connection ends. Should two live muxers take the same
 * id, the one that took it last is the one found, and once it is gone, the other.
 */
export class PeerRegistry implements Iterable<Muxer> {
  private readonly byId = new Map<string, Muxer>();
  private readonly live = new Set<Muxer>();
  // Ids two or more live muxers have taken: only for those does losing one mean looking for another.
  private readonly shared = new Set<string>();

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
    const holder = this.byId.get(muxer.id);
    if (holder && holder !== muxer) this.shared.add(muxer.id);
    this.byId.set(muxer.id, muxer);
  }

  /** `muxer` no longer answers to `id`: another live muxer with that id takes over, if there is one. */
  private release(id: string, muxer: Muxer): void {
    if (this.byId.get(id) !== muxer) return;
    this.byId.delete(id);
    if (!this.shared.has(id)) return;
    // The newest connection among the others: the likeliest to be alive.
    let others = 0;
    let newest: Muxer | undefined;
    for (const other of this.live) {
      if (other.id !== id || other === muxer) continue;
      others++;
      newest = other;
    }
    if (newest) this.byId.set(id, newest);
    if (others < 2) this.shared.delete(id);
  }
}

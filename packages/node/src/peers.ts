import type { Muxer } from "@bimux/core";

/**
 * Live connections of a server by {@link Muxer.id}. It follows id changes and
 * forgets a muxer when its connection ends. Should two live muxers take the same
 * id, the one that took it last is the one found.
 */
export class PeerRegistry implements Iterable<Muxer> {
  private readonly byId = new Map<string, Muxer>();
  private readonly live = new Set<Muxer>();

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
    this.byId.set(muxer.id, muxer);
  }

  /** @internal Follows an id change; false if the muxer is not (yet) registered. */
  rename(muxer: Muxer, previous: string): boolean {
    if (!this.live.has(muxer)) return false;
    if (this.byId.get(previous) === muxer) this.byId.delete(previous);
    this.byId.set(muxer.id, muxer);
    return true;
  }

  /** @internal */
  remove(muxer: Muxer): void {
    this.live.delete(muxer);
    if (this.byId.get(muxer.id) === muxer) this.byId.delete(muxer.id);
  }
}

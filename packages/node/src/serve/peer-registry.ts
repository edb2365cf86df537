import type { Muxer } from "@bimux/core";

/**
 * What happens when a connection takes an id a live connection already has:
 * - `"refuse"` (the default): the newcomer is turned away (HTTP 409 when the id comes
 *   from `authenticate`, close 1008 when the application sets it), the live one keeps it;
 * - `"replace"`: the newcomer takes the id and the older connection is closed with 1008.
 *   Meant for ids that `authenticate` vouches for, where a newer connection of the same
 *   peer (a reloaded tab, a reconnecting agent) should win over one that is going away.
 */
export type DuplicateIdPolicy = "refuse" | "replace";

/**
 * Live connections of a server by {@link Muxer.id}. It follows id changes and
 * forgets a muxer when its connection ends. An id names at most one live connection:
 * a second connection never silently takes another's place (see {@link DuplicateIdPolicy}).
 * The empty id names nobody: connections without a name are live, but not found by id.
 */
export class PeerRegistry implements Iterable<Muxer> {
  private readonly byId = new Map<string, Muxer>();
  private readonly live = new Set<Muxer>();

  /** @param policy what a connection taking a live id gets; the registry closes whoever loses. */
  constructor(private readonly policy: DuplicateIdPolicy = "refuse") {}

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

  /** @internal True when `id` may be given to a new connection now (the gate asks before upgrading). */
  available(id: string): boolean {
    return this.policy === "replace" || !this.byId.has(id);
  }

  /** @internal Registers a new connection under its id; false (and it is closed) when the id is taken and the policy refuses. */
  add(muxer: Muxer): boolean {
    if (!this.take(muxer)) return false;
    this.live.add(muxer);
    return true;
  }

  /** @internal Follows an id change; false if the muxer is not registered, or lost the id (and was closed). */
  rename(muxer: Muxer, previous: string): boolean {
    if (!this.live.has(muxer)) return false;
    if (this.byId.get(previous) === muxer) this.byId.delete(previous);
    if (this.take(muxer)) return true;
    this.live.delete(muxer);
    return false;
  }

  /** @internal */
  remove(muxer: Muxer): void {
    this.live.delete(muxer);
    if (this.byId.get(muxer.id) === muxer) this.byId.delete(muxer.id);
  }

  /** Files `muxer` under its id, as the policy says; closes the loser. */
  private take(muxer: Muxer): boolean {
    const { id } = muxer;
    // "" is no name: any number of connections may go without one.
    if (id === "") return true;
    const holder = this.byId.get(id);
    if (holder && holder !== muxer) {
      if (this.policy === "refuse") {
        muxer.close(1008, `id ${JSON.stringify(id)} is in use by a live connection`);
        return false;
      }
      this.remove(holder);
      holder.close(1008, `id ${JSON.stringify(id)} was taken by a newer connection`);
    }
    this.byId.set(id, muxer);
    return true;
  }
}

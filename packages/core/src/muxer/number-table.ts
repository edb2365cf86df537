import type { WireNumber } from "../wire/codec.js";

/** What a {@link NumberTable} holds: anything that knows its own number. */
export interface Numbered {
  readonly number: WireNumber;
}

/**
 * Items by their number, for the calls of one connection (its pending outbound calls,
 * its inbound calls in flight): what a `Map<number, T>` would do, without the garbage a
 * Map leaves under churn.
 *
 * Why not a Map: V8 rebuilds a Map's table when its deleted entries fill it up (with a
 * call set and deleted per message, every few hundred calls), and the discarded table
 * keeps a pointer to its successor (for iterators still walking it). Once a table has
 * been promoted to the old generation, which any major collection does to a live one,
 * the next table is reachable from a dead old object, which a scavenge treats as alive:
 * it survives, is promoted, and holds the one after it. From then on every call that
 * passes through the Map (its record, promise, reply bytes) is promoted too, until the
 * next major collection, which starts the chain again. At 100k calls a second that was
 * about 100 MB/s promoted and a major collection every few hundred ms (issue 17).
 *
 * Here the items are the elements of a plain object, keyed by number: V8 keeps sparse
 * integer keys in a dictionary whose discarded tables point nowhere (socket.io keeps its
 * acknowledgements so, and has no such chain).
 */
export class NumberTable<T extends Numbered> {
  // Made on the first add: an idle connection should cost as little as possible.
  #items: Record<string, T> | undefined;
  #size = 0;

  /** How many items are in the table. */
  get size(): number {
    return this.#size;
  }

  /** The item numbered `number`, if there is one. */
  get(number: WireNumber): T | undefined {
    return this.#items?.[number as unknown as string];
  }

  /** Adds `item`, whose number must not be in the table yet. */
  add(item: T): void {
    (this.#items ??= Object.create(null) as Record<string, T>)[item.number as unknown as string] = item;
    this.#size++;
  }

  /** Removes and returns the item numbered `number`, if there is one. */
  take(number: WireNumber): T | undefined {
    const items = this.#items;
    const item = items?.[number as unknown as string];
    if (item) {
      delete items![number as unknown as string];
      this.#size--;
    }
    return item;
  }

  /** Every item: a copy, so the table may change while it is used. */
  values(): T[] {
    return this.#items ? Object.values(this.#items) : [];
  }
}

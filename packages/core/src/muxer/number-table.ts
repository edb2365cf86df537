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
 * Here the items live in one array, by open addressing: linear probing from a Fibonacci
 * hash, which spreads sequential numbers (ours) evenly, so runs stay short; a peer that
 * picks colliding numbers for its requests makes runs at most `maxConcurrent` long. The
 * array is only replaced when it grows (half full), and the old one is cleared then.
 */
export class NumberTable<T extends Numbered> {
  // Made on the first add: an idle connection should cost as little as possible.
  #slots: Array<T | undefined> | undefined;
  // 32 − log2(capacity): the hash's top bits are the slot.
  #shift = 0;
  #size = 0;

  /** How many items are in the table. */
  get size(): number {
    return this.#size;
  }

  /** The item numbered `number`, if there is one. */
  get(number: WireNumber): T | undefined {
    const i = this.#index(number);
    return i < 0 ? undefined : this.#slots![i];
  }

  /** Adds `item`, whose number must not be in the table yet. */
  add(item: T): void {
    const slots = this.#slots;
    if (!slots || (this.#size + 1) * 2 > slots.length) this.#resize(slots ? slots.length * 2 : 16);
    this.#place(item);
    this.#size++;
  }

  /** Removes and returns the item numbered `number`, if there is one. */
  take(number: WireNumber): T | undefined {
    const slots = this.#slots;
    let i = this.#index(number);
    if (!slots || i < 0) return undefined;
    const item = slots[i];
    const mask = slots.length - 1;
    slots[i] = undefined;
    // The rest of its run is placed again: none of it may be cut off from its slot by the hole.
    for (let next; (next = slots[(i = (i + 1) & mask)]) !== undefined; ) {
      slots[i] = undefined;
      this.#place(next);
    }
    // An emptied table lets go of a large array: a burst's memory is not kept for good, while
    // a connection whose calls come and go below that size keeps one array all along.
    if (!--this.#size && slots.length > 1024) this.#slots = undefined;
    return item;
  }

  /** Every item, in no particular order: a copy, so the table may change while it is used. */
  values(): T[] {
    return (this.#slots ?? []).filter((item) => item !== undefined);
  }

  /** Where the item numbered `number` is, or -1. */
  #index(number: WireNumber): number {
    const slots = this.#slots;
    if (slots) {
      for (let i = this.#home(number), item; (item = slots[i]) !== undefined; i = (i + 1) & (slots.length - 1)) {
        if (item.number === number) return i;
      }
    }
    return -1;
  }

  /** Fibonacci hashing; a bigint (a number past 2^53, never ours) hashes by its rounded value. */
  #home(number: WireNumber): number {
    return Math.imul(Number(number), 0x9e3779b1) >>> this.#shift;
  }

  #place(item: T): void {
    const slots = this.#slots!;
    let i = this.#home(item.number);
    while (slots[i] !== undefined) i = (i + 1) & (slots.length - 1);
    slots[i] = item;
  }

  /** A new array of `capacity`, with the items there are. */
  #resize(capacity: number): void {
    const old = this.#slots ?? [];
    this.#slots = new Array<T | undefined>(capacity).fill(undefined);
    this.#shift = Math.clz32(capacity) + 1;
    for (const each of old) if (each !== undefined) this.#place(each);
    // An old array that was promoted would otherwise keep its items alive through scavenges
    // after they leave (see above): it holds nothing once replaced.
    old.fill(undefined);
  }
}

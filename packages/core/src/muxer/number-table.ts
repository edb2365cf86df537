import type { WireNumber } from "../wire/codec.js";

/** What a {@link NumberTable} holds: anything that knows its own number. */
export interface Numbered {
  readonly number: WireNumber;
}

// A random seed per process, mixed into every hash, so that a peer cannot choose request
// numbers that all land in one place (what a fixed hash would let it do, and each lookup
// would then walk them all).
const SEED = (Math.random() * 0x100000000) | 0;
const MIN_CAPACITY = 16;
// Past this, an emptied table lets go of its array: a burst's memory is not kept for good,
// while a connection whose calls come and go below it keeps one array all along.
const KEEP_CAPACITY = 1024;

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
 * Here the items live in one array, found by open addressing (linear probing on a seeded
 * hash) and removed with backward shift, so nothing is left behind; the array is only
 * replaced when it grows (half full), and the old one is cleared then.
 */
export class NumberTable<T extends Numbered> {
  // Made on the first add: an idle connection should cost as little as possible.
  #slots: Array<T | undefined> | undefined;
  #mask = 0;
  #size = 0;

  /** How many items are in the table. */
  get size(): number {
    return this.#size;
  }

  /** The item numbered `number`, if there is one. */
  get(number: WireNumber): T | undefined {
    const slots = this.#slots;
    if (!slots) return undefined;
    const mask = this.#mask;
    for (let i = hash(number) & mask; ; i = (i + 1) & mask) {
      const item = slots[i];
      if (item === undefined || item.number === number) return item;
    }
  }

  /** Adds `item`, whose number must not be in the table yet. */
  add(item: T): void {
    if (!this.#slots) this.#resize(MIN_CAPACITY);
    else if ((this.#size + 1) * 2 > this.#slots.length) this.#resize(this.#slots.length * 2);
    this.#place(item);
    this.#size++;
  }

  /** Removes and returns the item numbered `number`, if there is one. */
  take(number: WireNumber): T | undefined {
    const slots = this.#slots;
    if (!slots) return undefined;
    const mask = this.#mask;
    let i = hash(number) & mask;
    let item: T | undefined;
    for (; ; i = (i + 1) & mask) {
      item = slots[i];
      if (item === undefined) return undefined;
      if (item.number === number) break;
    }
    // Backward shift: items after the hole that would no longer be found past it move into it.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const next = slots[j];
      if (next === undefined) break;
      const home = hash(next.number) & mask;
      // `next` may move to `i` unless its home lies in (i, j], cyclically.
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        slots[i] = next;
        i = j;
      }
    }
    slots[i] = undefined;
    if (--this.#size === 0 && slots.length > KEEP_CAPACITY) this.#slots = undefined;
    return item;
  }

  /** Every item, in no particular order: a copy, so the table may change while it is used. */
  values(): T[] {
    const out: T[] = [];
    for (const item of this.#slots ?? []) if (item !== undefined) out.push(item);
    return out;
  }

  #place(item: T): void {
    const slots = this.#slots!;
    const mask = this.#mask;
    let i = hash(item.number) & mask;
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = item;
  }

  #resize(capacity: number): void {
    const old = this.#slots;
    this.#slots = new Array<T | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
    if (!old) return;
    for (const item of old) if (item !== undefined) this.#place(item);
    // An old array that was promoted would otherwise keep its items alive through scavenges
    // after they leave (see above): it holds nothing once replaced.
    old.fill(undefined);
  }
}

/**
 * A 32-bit hash of a request number. The seed goes in before the high half is mixed in, so
 * that no choice of both halves collides whatever the seed is (murmur3's finalizer, twice).
 */
function hash(number: WireNumber): number {
  let low: number;
  let high: number;
  if (typeof number === "number") {
    // The low and high 32 bits of a safe integer.
    low = number | 0;
    high = (number / 0x100000000) | 0;
  } else {
    low = Number(BigInt.asIntN(32, number));
    high = Number(BigInt.asIntN(32, number >> 32n));
  }
  return mix(mix(low ^ SEED) ^ high);
}

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

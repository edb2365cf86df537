// The table the muxer keeps its calls in by number (internal: loaded from its module).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { NumberTable } from "../../src/muxer/number-table.js";

type Item = { readonly number: number | bigint; readonly tag: number };

describe("NumberTable", () => {
  it("agrees with a Map under any mix of adds, gets and takes (numbers and bigints)", () => {
    const key = fc.oneof(
      fc.integer({ min: 0, max: 64 }),
      fc.constantFrom(2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 0x1_0000_0010),
      fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }),
    );
    const op = fc.tuple(fc.constantFrom("add", "get", "take"), key);
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const table = new NumberTable<Item>();
        const model = new Map<number | bigint, Item>();
        ops.forEach(([what, number], tag) => {
          if (what === "add") {
            // The table's contract: a number is added only when it is not in already.
            if (model.has(number)) return;
            const item = { number, tag };
            table.add(item);
            model.set(number, item);
          } else if (what === "get") {
            expect(table.get(number)).toBe(model.get(number));
          } else {
            expect(table.take(number)).toBe(model.get(number));
            model.delete(number);
          }
          expect(table.size).toBe(model.size);
        });
        expect(new Set(table.values())).toEqual(new Set(model.values()));
      }),
      { numRuns: 300 },
    );
  });

  it("numbers past 2^53, which arrive as bigints, are kept by their exact value", () => {
    const table = new NumberTable<Item>();
    const big = 2n ** 53n;
    table.add({ number: big, tag: 1 });
    table.add({ number: big + 1n, tag: 2 });
    // The number nearest 2^53 + 1 is 2^53: as a number it would have taken the first one's place.
    expect(table.get(big + 1n)?.tag).toBe(2);
    expect(table.take(big)?.tag).toBe(1);
    expect(table.get(big)).toBeUndefined();
    expect(table.get(big + 1n)?.tag).toBe(2);
    expect(table.size).toBe(1);
  });

  it("keeps finding every item through growth and a long run of calls coming and going", () => {
    const table = new NumberTable<Item>();
    const live: Item[] = [];
    // One call that never leaves among a closed loop of 100: its slot is in the way of later numbers.
    const stuck = { number: 1, tag: -1 };
    table.add(stuck);
    let missed = 0;
    for (let n = 2; n < 20_000; n++) {
      const item = { number: n, tag: n };
      table.add(item);
      live.push(item);
      if (live.length > 100 && table.take(live.shift()!.number) === undefined) missed++;
    }
    expect(missed).toBe(0);
    expect(table.size).toBe(101);
    expect(table.get(1)).toBe(stuck);
    for (const item of live) expect(table.get(item.number)).toBe(item);
    expect(table.take(20_000)).toBeUndefined();
  });

  it("values() is a copy: taking while walking it misses nothing", () => {
    const table = new NumberTable<Item>();
    for (let n = 1; n <= 50; n++) table.add({ number: n, tag: n });
    let seen = 0;
    for (const item of table.values()) {
      expect(table.take(item.number)).toBe(item);
      seen++;
    }
    expect(seen).toBe(50);
    expect(table.size).toBe(0);
  });

  it("an emptied table lets go of a large array and works again after", () => {
    const table = new NumberTable<Item>();
    for (let n = 1; n <= 5000; n++) table.add({ number: n, tag: n });
    for (let n = 1; n <= 5000; n++) table.take(n);
    expect(table.size).toBe(0);
    expect(table.values()).toEqual([]);
    expect(table.get(3)).toBeUndefined();
    table.add({ number: 3, tag: 3 });
    expect(table.get(3)?.tag).toBe(3);
  });
});

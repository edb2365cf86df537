// The fast protobuf encoder (src/fast-encode.ts) must write exactly what @bufbuild/protobuf's
// toBinary writes: checked on random messages of every scalar kind, and on the edges.
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fastEncoder } from "../src/fast-encode.js";
import { NestedSchema, ScalarsSchema, WithMapSchema, WithOneofSchema, WithOptionalSchema, Color } from "./gen/demo/v1/scalars_pb.js";
import { EchoMessageSchema, GetTitleRequestSchema, LookupResponseSchema } from "./gen/demo/v1/tab_pb.js";

const hex = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString("hex") : "(fell back)");
const encodeFast = (schema: DescMessage, message: object) => fastEncoder(schema)!(message as Record<string, unknown>);

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
// Any UTF-16, lone surrogates included (TextEncoder writes U+FFFD for them).
const text = fc.oneof(fc.string({ unit: "binary" }), fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }).map((c) => String.fromCharCode(...c)));
const color = fc.constantFrom(Color.UNSPECIFIED, Color.RED, Color.BLUE, 7, -9);
// Zero often: implicit presence leaves it out, and that must match too.
const often0 = <T>(arb: fc.Arbitrary<T>, zero: T) => fc.oneof({ arbitrary: fc.constant(zero), weight: 1 }, { arbitrary: arb, weight: 3 });

const scalars = fc.record({
  d: often0(fc.double(), 0),
  f: often0(fc.float(), 0),
  i64: often0(int64, 0n),
  u64: often0(uint64, 0n),
  i32: often0(int32, 0),
  f64: often0(uint64, 0n),
  f32: often0(uint32, 0),
  b: fc.boolean(),
  s: often0(text, ""),
  by: fc.uint8Array({ maxLength: 300 }),
  u32: often0(uint32, 0),
  color,
  sf32: often0(int32, 0),
  sf64: often0(int64, 0n),
  si32: often0(int32, 0),
  si64: often0(int64, 0n),
  rI32: fc.array(int32, { maxLength: 40 }),
  rS: fc.array(text, { maxLength: 5 }),
  rBy: fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 5 }),
  rD: fc.array(fc.double(), { maxLength: 20 }),
  rSi64: fc.array(int64, { maxLength: 20 }),
  rB: fc.array(fc.boolean(), { maxLength: 200 }),
  js: often0(int64.map(String), "0"),
  rUnpacked: fc.array(uint32, { maxLength: 10 }),
  rColor: fc.array(color, { maxLength: 10 }),
  rF32: fc.array(uint32, { maxLength: 10 }),
});

describe("the fast protobuf encoder", () => {
  it("writes toBinary's bytes for random messages of every scalar kind", () => {
    fc.assert(
      fc.property(scalars, (init) => {
        const message = create(ScalarsSchema, init as MessageInitShape<typeof ScalarsSchema>);
        const fast = encodeFast(ScalarsSchema, message);
        expect(hex(fast)).toBe(hex(toBinary(ScalarsSchema, message)));
      }),
      { numRuns: 2000 },
    );
  });

  it("writes toBinary's bytes for the services' messages, and at the edges", () => {
    const cases: Array<[DescMessage, object]> = [
      [GetTitleRequestSchema, { tabId: 0 }],
      [GetTitleRequestSchema, { tabId: -1 }],
      [GetTitleRequestSchema, { tabId: 2 ** 31 - 1 }],
      [EchoMessageSchema, { data: new Uint8Array(70_000).fill(7), delayMs: 2 ** 32 - 1 }],
      [LookupResponseSchema, { name: "é€😀", id: -(2n ** 63n), tags: ["", "a", "\ud800"] }],
      [ScalarsSchema, { d: -0, f: Number.NaN, s: "x".repeat(200_000), rI32: Array.from({ length: 5000 }, (_, i) => i * 997 - 2_000_000) }],
      [ScalarsSchema, { d: Number.POSITIVE_INFINITY, f: -3.4028234663852886e38, u64: 2n ** 64n - 1n, js: "-9223372036854775808" }],
    ];
    for (const [schema, init] of cases) {
      const message = create(schema, init as MessageInitShape<DescMessage>);
      expect(hex(encodeFast(schema, message))).toBe(hex(toBinary(schema, message)));
    }
  });

  it("leaves to toBinary what it was not made for: nested messages, oneofs, optional fields, maps, unknown fields, bad values", () => {
    for (const schema of [NestedSchema, WithOneofSchema, WithOptionalSchema, WithMapSchema]) expect(fastEncoder(schema)).toBeUndefined();
    const withUnknown = fromBinary(GetTitleRequestSchema, Uint8Array.of(0x08, 0x01, 0x10, 0x05));
    expect(withUnknown.$unknown).toHaveLength(1);
    expect(encodeFast(GetTitleRequestSchema, withUnknown)).toBeUndefined();
    // Values of the wrong type or range (from JavaScript, or a cast): toBinary decides what they
    // become, or throws with its reason, as without the fast encoder.
    for (const init of [{ i32: 1.5 }, { i32: 2 ** 31 }, { u32: -1 }, { s: 5 }, { by: "x" }, { i64: 2n ** 63n }, { f: 1e39 }, { rI32: [1, "2"] }, { b: 1 }]) {
      expect(encodeFast(ScalarsSchema, { ...create(ScalarsSchema), ...init })).toBeUndefined();
    }
  });
});

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BimuxError, CloseCode, Flag, decodeErrorReply, decodeFrame, encodeErrorReply, encodeFrame, type Frame } from "@bimux/core";
// The generated protobuf-es schema, the reference the codec is checked against: not part of the API.
import { ErrorReplySchema, MessageSchema } from "../../src/gen/bimux/v1/message_pb.js";
import { bytes } from "../../../../test-support/helpers.js";

const MAX_U64 = 0xffffffffffffffffn;

const uint64 = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX_U64 }),
  fc.bigInt({ min: 0n, max: 300n }),
  fc.constantFrom(0n, 127n, 128n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, MAX_U64),
);
const int32 = fc.oneof(fc.integer({ min: -2147483648, max: 2147483647 }), fc.integer({ min: -2, max: 200 }));
const frameArb = fc.record({
  number: uint64,
  flag: fc.oneof(fc.integer({ min: 0, max: 4 }), int32),
  route: int32,
  data: fc.uint8Array({ maxLength: 600 }),
  timeout: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 60_000 })),
});

const toWire = (n: bigint) => (n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);

describe("codec against the generated protobuf-es schema (differential)", () => {
  it("encodes exactly as toBinary does", () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        const ours = encodeFrame({ ...f, number: toWire(f.number) });
        const theirs = toBinary(MessageSchema, create(MessageSchema, f));
        expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it("decodes exactly as fromBinary does", () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        const bytes = toBinary(MessageSchema, create(MessageSchema, f));
        const ours = decodeFrame(bytes);
        const theirs = fromBinary(MessageSchema, bytes);
        expect(BigInt(ours.number)).toBe(theirs.number);
        expect(ours.flag).toBe(theirs.flag);
        expect(ours.route).toBe(theirs.route);
        expect(Buffer.from(ours.data).equals(Buffer.from(theirs.data))).toBe(true);
        expect(ours.timeout ?? 0).toBe(theirs.timeout);
      }),
      { numRuns: 5000 },
    );
  });

  it("skips unknown fields of every wire type, as proto3 requires", () => {
    // number=5, then field 9 varint, field 10 fixed64, field 11 bytes, field 12 fixed32, field 13 group, then data.
    const bytes = Uint8Array.from([
      0x08, 0x05, 0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5a, 0x02, 0xaa, 0xbb, 0x65, 1, 2, 3, 4,
      0x6b, 0x08, 0x01, 0x6c, 0x22, 0x01, 0x7a,
    ]);
    const ours = decodeFrame(bytes);
    const theirs = fromBinary(MessageSchema, bytes);
    expect(ours).toEqual({ number: 5, flag: 0, route: 0, data: Uint8Array.from([0x7a]) });
    expect(theirs.number).toBe(5n);
  });

  it("keeps the last value of a repeated scalar field, as protobuf does", () => {
    const bytes = Uint8Array.from([0x18, 0x01, 0x18, 0x02]);
    expect(decodeFrame(bytes).route).toBe(fromBinary(MessageSchema, bytes).route);
  });

  it("round-trips error replies like the schema does", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (code, message) => {
        const ours = encodeErrorReply({ code, message });
        expect(Buffer.from(ours).equals(Buffer.from(toBinary(ErrorReplySchema, create(ErrorReplySchema, { code, message }))))).toBe(true);
        expect(decodeErrorReply(ours)).toEqual({ code, message });
      }),
      { numRuns: 1000 },
    );
  });
});

describe("codec on bad input", () => {
  const cases: Array<[string, number[]]> = [
    ["a truncated varint", [0x08, 0x80]],
    ["an over-long varint", [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ["a length past the end", [0x22, 0x05, 0x01]],
    ["field number zero", [0x00, 0x01]],
    ["wire type 7", [0x0f]],
    ["wire type 6", [0x0e]],
    ["a stray end-group", [0x0c]],
    ["an unterminated group", [0x0b, 0x08, 0x01]],
    ["a truncated fixed64", [0x09, 1, 2, 3]],
  ];
  for (const [name, bytes] of cases) {
    it(`rejects ${name} with a protocol BimuxError`, () => {
      let caught: unknown;
      try {
        decodeFrame(Uint8Array.from(bytes));
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(BimuxError);
      expect((caught as BimuxError).code).toBe("protocol");
      // The generated decoder refuses it too: we are no more lenient than protobuf.
      expect(() => fromBinary(MessageSchema, Uint8Array.from(bytes))).toThrow();
    });
  }

  it("refuses to encode what the wire cannot carry", () => {
    const base: Frame = { number: 1, flag: 0, route: 0, data: new Uint8Array() };
    for (const bad of [
      { ...base, number: -1 },
      { ...base, number: 2 ** 53 },
      { ...base, number: 1.5 },
      { ...base, number: MAX_U64 + 1n },
      { ...base, route: 2 ** 31 },
      { ...base, route: 0.5 },
      { ...base, flag: Number.NaN },
    ]) {
      expect(() => encodeFrame(bad)).toThrow(BimuxError);
    }
  });
});

describe("codec edge values", () => {
  it("round-trips the edge values of every field, refuses what the wire cannot carry, and keeps the wire numbers of Flag and CloseCode", () => {
    for (const f of [
      { number: 0, flag: 0, route: 0, data: new Uint8Array() },
      { number: Number.MAX_SAFE_INTEGER, flag: 6, route: -2147483648, data: bytes("x") },
      { number: 2n ** 64n - 1n, flag: -1, route: 2147483647, data: bytes("y"), timeout: 4294967295 },
    ]) {
      expect(decodeFrame(encodeFrame(f))).toEqual(f);
    }
    expect(encodeFrame({ number: 0, flag: 0, route: 0, data: new Uint8Array() }).length).toBe(0);
    for (const bad of [{ number: -1 }, { number: 2 ** 53 }, { number: 2n ** 64n }, { route: 2 ** 31 }, { flag: 1.5 }, { timeout: 2 ** 32 }, { timeout: -1 }]) {
      expect(() => encodeFrame({ number: 1, flag: 0, route: 0, data: new Uint8Array(), ...bad } as never)).toThrow(BimuxError);
    }
    expect(decodeErrorReply(encodeErrorReply({ code: "", message: "" }))).toEqual({ code: "", message: "" });
    expect(decodeErrorReply(encodeErrorReply({ code: "x", message: "é" }))).toEqual({ code: "x", message: "é" });
    expect(() => decodeErrorReply(new Uint8Array([0x0a, 5, 1]))).toThrow(BimuxError);
    expect(Flag).toEqual({ request: 0, response: 1, oneway: 2, error: 3, cancel: 4, ping: 5, pong: 6 });
    expect(CloseCode.messageTooBig).toBe(1009);
  });
});

/**
 * Turns the values of a {@link defineService} contract into bytes and back. JSON
 * ({@link jsonCodec}) by default; CBOR or MessagePack fit as they are, e.g.
 * `{ encode: (v) => cbor.encode(v), decode: (b) => cbor.decode(b) }`.
 * A throw from either is reported to the caller as a `BimuxError`: `invalid_argument`
 * for a request, `internal` for a reply.
 */
export interface Codec {
  /** The bytes of `value` (a request or a reply; `undefined` for a method returning void). */
  encode(value: unknown): Uint8Array;
  /** The value of `bytes`, as `encode` made them. */
  decode(bytes: Uint8Array): unknown;
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
let scratch = new Uint8Array(1024);
// fatal: bytes that are not UTF-8 are a bad payload, not text with U+FFFD in it.
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * JSON in UTF-8, the default codec of contracts. `undefined` (a void method's reply, a
 * request of nothing) travels as zero bytes, and zero bytes decode to `undefined`.
 */
export const jsonCodec: Codec = {
  encode(value) {
    // JSON.stringify gives undefined for undefined, functions and symbols: nothing to send.
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) return EMPTY;
    // encodeInto a scratch buffer and a copy of what was written: for the small messages of
    // most calls, about half the cost of encode() (bench/RESULTS.md). UTF-8 takes at most
    // 3 bytes per UTF-16 unit.
    if (scratch.length < json.length * 3) scratch = new Uint8Array(Math.max(json.length * 3, 2 * scratch.length));
    return scratch.slice(0, encoder.encodeInto(json, scratch).written);
  },
  decode(bytes) {
    return bytes.length === 0 ? undefined : (JSON.parse(decoder.decode(bytes)) as unknown);
  },
};

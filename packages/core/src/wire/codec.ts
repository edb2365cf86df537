import { BimuxError } from "../errors.js";
import { Wire } from "./flags.js";

/** One of the {@link Flag} values, or another int32 read off the wire. */
export type FlagValue = number;

/**
 * A uint64 on the wire: a `number` when it is a safe integer (every number bimux
 * itself hands out), a `bigint` above 2^53 − 1 so that nothing is rounded.
 */
export type WireNumber = number | bigint;

/** One decoded envelope: the protobuf `Message` of the Go original. */
export interface Frame {
  /** The sender's sequence number, or for a reply the request's number. */
  number: WireNumber;
  /** What kind of message this is; see {@link Flag}. */
  flag: FlagValue;
  /** The application's route, an int32. */
  route: number;
  /** The payload. After decoding, a view into the received bytes (no copy). */
  data: Uint8Array;
  /**
   * Extension field 5, on requests: how many milliseconds the caller will wait
   * for the reply. Absent (or 0) means no limit was sent. A Go peer skips it.
   */
  timeout?: number;
}

const TWO_32 = 4294967296;
/** @internal No bytes: shared, as nothing ever writes into it. */
export const EMPTY: Uint8Array = new Uint8Array(0);

/** Where {@link encodeFrame} gets the memory for a frame; transports may pool it (see `Duplex.allocate`). */
export interface FrameAllocator {
  allocate(size: number): Uint8Array;
}

/**
 * Encodes a frame exactly as the Go original's `proto.Marshal` does: fields in
 * order, zero values left out. With an `allocator`, the frame may be a view into
 * a larger block: use its bytes (`byteOffset`, `byteLength`), not its whole `buffer`.
 * Throws `invalid_argument` when a field is out of its wire type's range.
 */
export function encodeFrame(frame: Frame, allocator?: FrameAllocator): Uint8Array {
  const { number, flag, route, timeout = 0 } = frame;
  check(typeof number === "number" ? number >= 0 && Number.isSafeInteger(number) : number >= 0n && number < 1n << 64n, "number", number);
  check(isInt32(flag), "flag", flag);
  check(isInt32(route), "route", route);
  check(Number.isInteger(timeout) && timeout >= 0 && timeout < TWO_32, "timeout", timeout);
  return writeFrame(number, flag, route, frame.data, timeout, allocator);
}

/**
 * @internal {@link encodeFrame} without the range checks, for the muxer: every
 * frame it writes is valid by construction (routes checked on the way in, numbers
 * its own or decoded, timeouts clamped), and a page should not pay for checking twice.
 */
export function writeFrame(number: WireNumber, flag: number, route: number, data: Uint8Array, timeout: number, allocator?: FrameAllocator): Uint8Array {
  // Two passes (see `begin`), over the arguments: no frame object, no closure, per message.
  let out: Uint8Array | undefined;
  for (begin(); ; ) {
    // Tags are (field << 3) | wire type: 0x08 number, 0x10 flag, 0x18 route, 0x22 data, 0x28 timeout.
    if (typeof number === "number") writeVarint(0x08, number);
    else writeVarint(0x08, Number(number & 0xffffffffn), Number(number >> 32n));
    writeVarint(0x10, flag);
    writeVarint(0x18, route);
    writeBytes(0x22, data);
    writeVarint(0x28, timeout);
    if (out) return out;
    out = allocate(allocator);
  }
}

/**
 * Decodes one envelope. Unknown fields are skipped (proto3 rules, as a Go peer
 * does); bytes that are not a protobuf message throw a `protocol` {@link BimuxError}.
 * The flag is returned as read, known or not: deciding what to do with it is the caller's job.
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  const frame: Frame = { number: 0, flag: 0, route: 0, data: EMPTY };
  let timeout = 0;
  for (buf = bytes, pos = 0; pos < buf.length; ) {
    const tag = readTag();
    // A known field with an unexpected wire type is an unknown field to protobuf, and skipped.
    if (tag === 0x08) {
      const lo = readVarint();
      // A uint64: below 2^53 exact as a double; above, a bigint keeps every bit.
      frame.number = hi < 0x200000 ? hi * TWO_32 + lo : (BigInt(hi) << 32n) | BigInt(lo);
    }
    else if (tag === 0x10) frame.flag = readVarint() | 0;
    else if (tag === 0x18) frame.route = readVarint() | 0;
    else if (tag === 0x22) frame.data = take(readVarint());
    else if (tag === 0x28) timeout = readVarint(); // uint32: the low 32 bits, as protobuf truncates
    else skip(tag, 0);
  }
  if (timeout) frame.timeout = timeout;
  return frame;
}

/** The payload of an error reply (`flag = error`): the protobuf `ErrorReply`. */
export interface ErrorReply {
  /** A bimux error code; unknown codes from newer peers are kept as read. */
  code: string;
  /** Human-readable description. */
  message: string;
}

/** @internal */
export const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Encodes an {@link ErrorReply} as protobuf (`code = 1`, `message = 2`). */
export function encodeErrorReply(reply: ErrorReply): Uint8Array {
  const code = utf8Encoder.encode(reply.code);
  const message = utf8Encoder.encode(reply.message);
  let out: Uint8Array | undefined;
  for (begin(); ; ) {
    writeBytes(0x0a, code);
    writeBytes(0x12, message);
    if (out) return out;
    out = allocate();
  }
}

/** Decodes an {@link ErrorReply}; throws a `protocol` {@link BimuxError} on bad bytes. */
export function decodeErrorReply(bytes: Uint8Array): ErrorReply {
  const reply: ErrorReply = { code: "", message: "" };
  for (buf = bytes, pos = 0; pos < buf.length; ) {
    const tag = readTag();
    if (tag === 0x0a) reply.code = utf8Decoder.decode(take(readVarint()));
    else if (tag === 0x12) reply.message = utf8Decoder.decode(take(readVarint()));
    else skip(tag, 0);
  }
  return reply;
}

/** True for an integer in the int32 range. */
export function isInt32(value: number): boolean {
  // `| 0` truncates and wraps every other number, so only an int32 (or -0) comes out
  // equal; the type check keeps bigints (which would throw) and objects away from it.
  return typeof value === "number" && value === (value | 0);
}

/** Throws `invalid_argument` unless `route` is an int32, as the wire requires. */
export function checkRoute(route: number): void {
  if (!isInt32(route)) throw new BimuxError("invalid_argument", `route must be an int32, got ${route}`);
}

/** Throws `invalid_argument` unless `route` is an int32 and `data` bytes: what every outbound call needs. */
export function checkCall(route: number, data: Uint8Array): void {
  checkRoute(route);
  if (!(data instanceof Uint8Array)) throw new BimuxError("invalid_argument", `data must be a Uint8Array`);
}

function check(ok: boolean, name: string, value: unknown): void {
  if (!ok) throw new BimuxError("invalid_argument", `frame ${name} out of range: ${value}`);
}

// The cursor: plain module state rather than a reader or writer object, since
// encoding and decoding are synchronous and never nested (one finishes before the
// next starts), and functions over shared variables minify to a fraction of methods.
let buf: Uint8Array = EMPTY;
let pos = 0;
/** The high 32 bits of the last varint read. */
let hi = 0;

// A message is written twice: a dry run into an empty array counts its bytes (a typed array
// ignores writes past its end), then the real one fills memory of exactly that size, so
// sizing can never disagree with writing.

/** Starts the dry run. */
function begin(): void {
  buf = EMPTY;
  pos = 0;
}

/** Ends the dry run: memory of the size it counted, where the real run writes. */
function allocate(allocator?: FrameAllocator): Uint8Array {
  buf = allocator ? allocator.allocate(pos) : new Uint8Array(pos);
  pos = 0;
  return buf;
}

/**
 * Writes a varint field, unless its value is 0 (proto3 leaves zeros out): the tag,
 * then the 64-bit value seven bits a byte. `value` is its low half, or any safe
 * integer: `high` defaults to the high half of that, which for a negative int32 is
 * -1, the sign extension protobuf writes (ten bytes).
 */
function writeVarint(tag: number, value: number, high = Math.floor(value / TWO_32)): void {
  if (value || high) {
    buf[pos++] = tag;
    // Bitwise operators see `value` modulo 2^32: its low half.
    while (high || value > 0x7f) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value = ((value >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[pos++] = value;
  }
}

/** Writes a length-delimited field, unless empty (proto3 leaves those out). */
function writeBytes(tag: number, bytes: Uint8Array): void {
  writeVarint(tag, bytes.length);
  // Not on the dry run, where `set` would throw rather than ignore.
  if (buf.length) buf.set(bytes, pos);
  pos += bytes.length;
}

/** Reads a field tag: a varint of at most 32 bits with a field number of at least 1. */
function readTag(): number {
  const tag = readVarint();
  if (hi || tag < 8) throw malformed();
  return tag;
}

/** Reads a varint of up to ten bytes; returns the low 32 bits and keeps the high ones in `hi`. */
function readVarint(): number {
  let lo = 0;
  let b = 0x80;
  hi = 0;
  for (let shift = 0; b > 0x7f; shift += 7) {
    // The tenth byte holds bit 63 alone: more overflows 64 bits (Go rejects it too), as does an eleventh byte.
    if (pos >= buf.length || (shift > 62 && buf[pos]! > 1)) throw malformed();
    b = buf[pos++]!;
    if (shift < 32) lo |= (b & 0x7f) << shift;
    else hi |= (b & 0x7f) << (shift - 32);
    // The fifth byte straddles the halves: four bits to lo, three to hi.
    if (shift === 28) hi = (b & 0x7f) >> 4;
  }
  hi >>>= 0;
  return lo >>> 0;
}

/**
 * The next `length` bytes, as a view (`take(readVarint())` reads a length-delimited
 * field); a length of more than 32 bits is always past the end.
 */
function take(length: number): Uint8Array {
  const from = pos;
  if (hi || (pos += length) > buf.length) throw malformed();
  return buf.subarray(from, pos);
}

/** Skips the field whose tag was just read; `depth` bounds nested groups. */
function skip(tag: number, depth: number): void {
  const type = tag & 7;
  if (type === 0) readVarint();
  else if (type === 2) take(readVarint());
  // fixed64 and fixed32 (the tag's `hi` is 0).
  else if (type === 1 || type === 5) take(type === 1 ? 8 : 4);
  // A (deprecated) group, nested at most 32 deep: fields up to its own end-group tag,
  // which is its start tag + 1; any other end-group tag is refused as a field below.
  else if (type === 3 && depth < 32) for (let inner; (inner = readTag()) !== tag + 1; ) skip(inner, depth + 1);
  else throw malformed();
}

/** Every way bytes can fail to be a protobuf message gets the same text: the sender is broken either way. */
function malformed(): BimuxError {
  return new BimuxError("protocol", "malformed message");
}

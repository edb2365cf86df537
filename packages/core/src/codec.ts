import { BimuxError } from "./errors.js";

/**
 * The `flag` values of the envelope. 0–2 are the Go original's; the rest are
 * bimux-ts extensions (see docs/protocol.md), all of which a Go peer drops.
 * 4–6 are only sent to a peer that negotiated them.
 */
export const Flag = {
  request: 0,
  response: 1,
  oneway: 2,
  error: 3,
  cancel: 4,
  ping: 5,
  pong: 6,
} as const;

// The same values as plain constants for bimux's own code: a bundler keeps only
// those used, each minified to a letter, where an object ships whole with its
// property names; every byte counts in a page.
/** @internal */
export const REQUEST = 0;
/** @internal */
export const RESPONSE = 1;
/** @internal */
export const ONEWAY = 2;
/** @internal */
export const ERROR = 3;
/** @internal */
export const CANCEL = 4;
/** @internal */
export const PING = 5;
/** @internal */
export const PONG = 6;

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
const EMPTY: Uint8Array = new Uint8Array(0);

/** Where {@link encodeFrame} gets the memory for a frame; transports may pool it (see `Duplex.allocate`). */
export interface FrameAllocator {
  allocate(size: number): Uint8Array;
}

/**
 * Encodes a frame exactly as the Go original's `proto.Marshal` does: fields in
 * order, zero values left out. With an `allocator`, the frame may be a view into
 * a larger block: use its bytes (`byteOffset`, `byteLength`), not its whole `buffer`.
 */
export function encodeFrame(frame: Frame, allocator?: FrameAllocator): Uint8Array {
  const { number, flag, route, data, timeout = 0 } = frame;
  // The uint64 as two uint32 halves, shared by sizing and writing.
  let lo: number;
  let hi: number;
  if (typeof number === "number") {
    check(number >= 0 && Number.isSafeInteger(number), "number", number);
    lo = number >>> 0;
    hi = (number - lo) / TWO_32;
  } else {
    check(number >= 0n && number < 1n << 64n, "number", number);
    lo = Number(number & 0xffffffffn);
    hi = Number(number >> 32n);
  }
  check(isInt32(flag), "flag", flag);
  check(isInt32(route), "route", route);
  check(Number.isInteger(timeout) && timeout >= 0 && timeout < TWO_32, "timeout", timeout);

  const length = data.length;
  const size =
    (lo || hi ? 1 + varintSize(lo, hi) : 0) +
      (flag ? 1 + int32Size(flag) : 0) +
      (route ? 1 + int32Size(route) : 0) +
      (length ? 1 + varintSize(length, 0) + length : 0) +
    (timeout ? 1 + varintSize(timeout, 0) : 0);
  const out = allocator ? allocator.allocate(size) : new Uint8Array(size);
  let pos = 0;
  // Tags are (field << 3) | wire type: 0x08 number, 0x10 flag, 0x18 route, 0x22 data, 0x28 timeout.
  if (lo || hi) pos = writeVarint(out, writeVarint(out, pos, 0x08, 0), lo, hi);
  if (flag) pos = writeInt32(out, writeVarint(out, pos, 0x10, 0), flag);
  if (route) pos = writeInt32(out, writeVarint(out, pos, 0x18, 0), route);
  pos = writeBytes(out, pos, 0x22, data);
  if (timeout) writeVarint(out, writeVarint(out, pos, 0x28, 0), timeout, 0);
  return out;
}

/**
 * Decodes one envelope. Unknown fields are skipped (proto3 rules, as a Go peer
 * does); bytes that are not a protobuf message throw a `protocol` {@link BimuxError}.
 * The flag is returned as read, known or not: deciding what to do with it is the caller's job.
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  // One reader for every frame: decoding is synchronous, so it is never in use twice.
  const reader = frameReader.reset(bytes);
  const frame: Frame = { number: 0, flag: 0, route: 0, data: EMPTY };
  let timeout = 0;
  while (reader.more()) {
    const tag = reader.tag();
    // A known field with an unexpected wire type is an unknown field to protobuf, and skipped.
    if (tag === 0x08) frame.number = reader.uint64();
    else if (tag === 0x10) frame.flag = reader.varint() | 0;
    else if (tag === 0x18) frame.route = reader.varint() | 0;
    else if (tag === 0x22) frame.data = reader.bytes();
    else if (tag === 0x28) timeout = reader.varint(); // uint32: the low 32 bits, as protobuf truncates
    else reader.skip(tag, 0);
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

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Encodes an {@link ErrorReply} as protobuf (`code = 1`, `message = 2`). */
export function encodeErrorReply(reply: ErrorReply): Uint8Array {
  const code = utf8Encoder.encode(reply.code);
  const message = utf8Encoder.encode(reply.message);
  const size = (b: Uint8Array) => (b.length ? 1 + varintSize(b.length, 0) + b.length : 0);
  const out = new Uint8Array(size(code) + size(message));
  writeBytes(out, writeBytes(out, 0, 0x0a, code), 0x12, message);
  return out;
}

/** Decodes an {@link ErrorReply}; throws a `protocol` {@link BimuxError} on bad bytes. */
export function decodeErrorReply(bytes: Uint8Array): ErrorReply {
  const reader = new Reader(bytes);
  const reply: ErrorReply = { code: "", message: "" };
  while (reader.more()) {
    const tag = reader.tag();
    if (tag === 0x0a) reply.code = utf8Decoder.decode(reader.bytes());
    else if (tag === 0x12) reply.message = utf8Decoder.decode(reader.bytes());
    else reader.skip(tag, 0);
  }
  return reply;
}

/** True for an integer in the int32 range. */
export function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= -2147483648 && value <= 2147483647;
}

/** Throws `invalid_argument` unless `route` is an int32, as the wire requires. */
export function checkRoute(route: number): void {
  if (!isInt32(route)) throw new BimuxError("invalid_argument", `route must be an int32, got ${route}`);
}

function check(ok: boolean, name: string, value: unknown): void {
  if (!ok) throw new BimuxError("invalid_argument", `frame ${name} out of range: ${value}`);
}

function varintSize(lo: number, hi: number): number {
  // Seven bits a byte: the significant bits of the 64-bit value, at least one byte.
  return hi ? Math.ceil((64 - Math.clz32(hi)) / 7) : Math.max(1, Math.ceil((32 - Math.clz32(lo)) / 7));
}

// int32 fields are varints of the value sign-extended to 64 bits, so negatives take ten bytes.
function int32Size(value: number): number {
  return value < 0 ? 10 : varintSize(value, 0);
}

function writeInt32(out: Uint8Array, pos: number, value: number): number {
  return writeVarint(out, pos, value >>> 0, value < 0 ? 0xffffffff : 0);
}

function writeVarint(out: Uint8Array, pos: number, lo: number, hi: number): number {
  while (hi || lo > 0x7f) {
    out[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out[pos++] = lo;
  return pos;
}

/** Writes a length-delimited field, unless empty (proto3 leaves those out). */
function writeBytes(out: Uint8Array, pos: number, tag: number, bytes: Uint8Array): number {
  if (!bytes.length) return pos;
  pos = writeVarint(out, writeVarint(out, pos, tag, 0), bytes.length, 0);
  out.set(bytes, pos);
  return pos + bytes.length;
}

/** A cursor over protobuf bytes. */
class Reader {
  #buf: Uint8Array;
  #pos = 0;
  /** The high 32 bits of the last varint read. */
  #hi = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
  }

  /** Points the reader at the start of `buf`. */
  reset(buf: Uint8Array): this {
    this.#buf = buf;
    this.#pos = this.#hi = 0;
    return this;
  }

  more(): boolean {
    return this.#pos < this.#buf.length;
  }

  /** Reads a field tag: a varint of at most 32 bits with a field number of at least 1. */
  tag(): number {
    const tag = this.varint();
    if (this.#hi || tag < 8) throw malformed("invalid field tag");
    return tag;
  }

  /** Reads a varint of up to ten bytes; returns the low 32 bits and keeps the high ones in #hi. */
  varint(): number {
    let lo = 0;
    let hi = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      const b = this.#byte();
      const bits = b & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        // The fifth byte straddles the halves: four bits to lo, three to hi.
        lo |= bits << 28;
        hi = bits >> 4;
      } else if (shift < 63) hi |= bits << (shift - 32);
      // The tenth byte holds bit 63 alone; anything more overflows 64 bits, which Go rejects too.
      else if (b > 1) throw malformed("varint overflows 64 bits");
      else hi |= b << 31;
      if (b < 0x80) {
        this.#hi = hi >>> 0;
        return lo >>> 0;
      }
    }
    throw malformed("varint overflows 64 bits");
  }

  uint64(): WireNumber {
    const lo = this.varint();
    const hi = this.#hi;
    // Below 2^53 the value is exact as a double; above, a bigint keeps every bit.
    return hi < 0x200000 ? hi * TWO_32 + lo : (BigInt(hi) << 32n) | BigInt(lo);
  }

  bytes(): Uint8Array {
    const length = this.varint();
    const start = this.#pos;
    if (this.#hi || start + length > this.#buf.length) throw malformed("truncated field");
    this.#pos += length;
    return this.#buf.subarray(start, this.#pos);
  }

  /** Skips the field whose tag was just read; `depth` bounds nested groups. */
  skip(tag: number, depth: number): void {
    switch (tag & 7) {
      case 0:
        this.varint();
        return;
      case 1:
        return this.#advance(8);
      case 2:
        this.bytes();
        return;
      case 5:
        return this.#advance(4);
      case 3: {
        // A (deprecated) group: skip fields until its matching end-group tag.
        if (depth >= 32) throw malformed("groups nested too deep");
        for (;;) {
          if (!this.more()) throw malformed("unterminated group");
          const inner = this.tag();
          if ((inner & 7) === 4) {
            if (inner >>> 3 !== tag >>> 3) throw malformed("mismatched end-group tag");
            return;
          }
          this.skip(inner, depth + 1);
        }
      }
      default:
        throw malformed(`invalid wire type ${tag & 7}`);
    }
  }

  #advance(n: number): void {
    if (this.#pos + n > this.#buf.length) throw malformed("truncated field");
    this.#pos += n;
  }

  #byte(): number {
    if (!this.more()) throw malformed("truncated field");
    return this.#buf[this.#pos++]!;
  }
}

const frameReader = new Reader(EMPTY);

function malformed(detail: string): BimuxError {
  return new BimuxError("protocol", `malformed message: ${detail}`);
}

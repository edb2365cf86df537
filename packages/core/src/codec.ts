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

// Tags of the fields we write: (field << 3) | wire type.
const TAG_NUMBER = 0x08; // 1, varint
const TAG_FLAG = 0x10; // 2, varint
const TAG_ROUTE = 0x18; // 3, varint
const TAG_DATA = 0x22; // 4, length-delimited
const TAG_TIMEOUT = 0x28; // 5, varint

/** Encodes a frame exactly as the Go original's `proto.Marshal` does. */
export function encodeFrame(frame: Frame): Uint8Array {
  const { number, flag, route, data, timeout = 0 } = frame;
  // Split the uint64 into two uint32 halves once; sizing and writing share them.
  let numLo: number;
  let numHi: number;
  if (typeof number === "number") {
    if (!(number >= 0 && Number.isSafeInteger(number))) {
      throw new BimuxError("invalid_argument", `frame number must be a uint64, got ${number}`);
    }
    numLo = number >>> 0;
    numHi = (number - numLo) / TWO_32;
  } else {
    if (number < 0n || number > 0xffffffffffffffffn) {
      throw new BimuxError("invalid_argument", `frame number must be a uint64, got ${number}`);
    }
    numLo = Number(number & 0xffffffffn);
    numHi = Number(number >> 32n);
  }
  checkInt32("flag", flag);
  checkInt32("route", route);
  if (!(Number.isInteger(timeout) && timeout >= 0 && timeout <= 0xffffffff)) {
    throw new BimuxError("invalid_argument", `frame timeout must be a uint32, got ${timeout}`);
  }

  let size = 0;
  if (numLo !== 0 || numHi !== 0) size += 1 + varintSize(numLo, numHi);
  if (flag !== 0) size += 1 + int32Size(flag);
  if (route !== 0) size += 1 + int32Size(route);
  const dataLength = data.length;
  if (dataLength !== 0) size += 1 + varintSize(dataLength, 0) + dataLength;
  if (timeout !== 0) size += 1 + varintSize(timeout, 0);

  const out = new Uint8Array(size);
  let pos = 0;
  if (numLo !== 0 || numHi !== 0) {
    out[pos++] = TAG_NUMBER;
    pos = writeVarint(out, pos, numLo, numHi);
  }
  if (flag !== 0) {
    out[pos++] = TAG_FLAG;
    pos = writeInt32(out, pos, flag);
  }
  if (route !== 0) {
    out[pos++] = TAG_ROUTE;
    pos = writeInt32(out, pos, route);
  }
  if (dataLength !== 0) {
    out[pos++] = TAG_DATA;
    pos = writeVarint(out, pos, dataLength, 0);
    out.set(data, pos);
    pos += dataLength;
  }
  if (timeout !== 0) {
    out[pos++] = TAG_TIMEOUT;
    writeVarint(out, pos, timeout, 0);
  }
  return out;
}

/**
 * Decodes one envelope. Unknown fields are skipped (proto3 rules, as a Go peer
 * does); bytes that are not a protobuf message throw a `protocol` {@link BimuxError}.
 * The flag is returned as read, known or not: deciding what to do with it is the caller's job.
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  const reader = new Reader(bytes);
  let number: WireNumber = 0;
  let flag = 0;
  let route = 0;
  let data = EMPTY;
  let timeout = 0;
  while (reader.pos < bytes.length) {
    const tag = reader.tag();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === 0) {
      reader.varint();
      number = reader.uint64();
    } else if (field === 2 && wireType === 0) {
      reader.varint();
      flag = reader.lo | 0;
    } else if (field === 3 && wireType === 0) {
      reader.varint();
      route = reader.lo | 0;
    } else if (field === 4 && wireType === 2) {
      data = reader.bytes();
    } else if (field === 5 && wireType === 0) {
      reader.varint();
      timeout = reader.lo; // uint32: the low 32 bits, as protobuf truncates
    } else {
      // A field we do not know, or a known one with an unexpected wire type:
      // protobuf keeps such fields as unknown, which for us means skipping them.
      reader.skip(field, wireType, 0);
    }
  }
  return timeout === 0 ? { number, flag, route, data } : { number, flag, route, data, timeout };
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
  let size = 0;
  if (code.length) size += 1 + varintSize(code.length, 0) + code.length;
  if (message.length) size += 1 + varintSize(message.length, 0) + message.length;
  const out = new Uint8Array(size);
  let pos = 0;
  if (code.length) {
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, code.length, 0);
    out.set(code, pos);
    pos += code.length;
  }
  if (message.length) {
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, message.length, 0);
    out.set(message, pos);
  }
  return out;
}

/** Decodes an {@link ErrorReply}; throws a `protocol` {@link BimuxError} on bad bytes. */
export function decodeErrorReply(bytes: Uint8Array): ErrorReply {
  const reader = new Reader(bytes);
  let code = "";
  let message = "";
  while (reader.pos < bytes.length) {
    const tag = reader.tag();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === 2) code = utf8Decoder.decode(reader.bytes());
    else if (field === 2 && wireType === 2) message = utf8Decoder.decode(reader.bytes());
    else reader.skip(field, wireType, 0);
  }
  return { code, message };
}

function checkInt32(name: string, value: number): void {
  if (!(Number.isInteger(value) && value >= -2147483648 && value <= 2147483647)) {
    throw new BimuxError("invalid_argument", `${name} must be an int32, got ${value}`);
  }
}

function varintSize(lo: number, hi: number): number {
  if (hi === 0) {
    if (lo < 0x80) return 1;
    if (lo < 0x4000) return 2;
    if (lo < 0x200000) return 3;
    if (lo < 0x10000000) return 4;
    return 5;
  }
  // 32 bits of lo plus the significant bits of hi, seven bits a byte.
  return Math.ceil((64 - Math.clz32(hi)) / 7);
}

// int32 fields are varints of the value sign-extended to 64 bits, so negatives take ten bytes.
function int32Size(value: number): number {
  return value < 0 ? 10 : varintSize(value, 0);
}

function writeInt32(out: Uint8Array, pos: number, value: number): number {
  return value < 0 ? writeVarint(out, pos, value >>> 0, 0xffffffff) : writeVarint(out, pos, value, 0);
}

function writeVarint(out: Uint8Array, pos: number, lo: number, hi: number): number {
  while (hi !== 0 || lo > 0x7f) {
    out[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out[pos++] = lo;
  return pos;
}

/** A cursor over protobuf bytes; the last varint read is left in `lo`/`hi`. */
class Reader {
  pos = 0;
  lo = 0;
  hi = 0;
  constructor(private readonly buf: Uint8Array) {}

  tag(): number {
    this.varint();
    const field = this.lo >>> 3;
    if (this.hi !== 0 || field === 0) throw malformed("invalid field tag");
    return this.lo;
  }

  /** Reads a varint of up to ten bytes into `lo` and `hi`. */
  varint(): void {
    let lo = 0;
    let hi = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const b = this.byte();
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return this.set(lo, hi);
    }
    // The fifth byte straddles the halves: four bits to lo, three to hi.
    let b = this.byte();
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b < 0x80) return this.set(lo, hi);
    for (let shift = 3; shift < 31; shift += 7) {
      b = this.byte();
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) return this.set(lo, hi);
    }
    // The tenth byte holds bit 63 alone; anything more overflows 64 bits, which Go rejects too.
    b = this.byte();
    if (b > 1) throw malformed(b < 0x80 ? "varint overflows 64 bits" : "varint longer than ten bytes");
    hi |= b << 31;
    return this.set(lo, hi);
  }

  uint64(): WireNumber {
    // Below 2^53 the value is exact as a double; above, a bigint keeps every bit.
    if (this.hi < 0x200000) return this.hi * TWO_32 + this.lo;
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  bytes(): Uint8Array {
    this.varint();
    const length = this.lo;
    const end = this.pos + length;
    if (this.hi !== 0 || end > this.buf.length) throw malformed("length-delimited field runs past the end");
    const view = this.buf.subarray(this.pos, end);
    this.pos = end;
    return view;
  }

  skip(field: number, wireType: number, depth: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        this.advance(4);
        return;
      case 3: {
        // A (deprecated) group: skip fields until its matching end-group tag.
        if (depth >= 32) throw malformed("groups nested too deeply");
        for (;;) {
          if (this.pos >= this.buf.length) throw malformed("unterminated group");
          const tag = this.tag();
          if ((tag & 7) === 4) {
            if (tag >>> 3 !== field) throw malformed("mismatched end-group tag");
            return;
          }
          this.skip(tag >>> 3, tag & 7, depth + 1);
        }
      }
      default:
        throw malformed(`invalid wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.buf.length) throw malformed("fixed-width field runs past the end");
    this.pos += n;
  }

  private byte(): number {
    if (this.pos >= this.buf.length) throw malformed("truncated varint");
    return this.buf[this.pos++]!;
  }

  private set(lo: number, hi: number): void {
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }
}

function malformed(detail: string): BimuxError {
  return new BimuxError("protocol", `malformed message: ${detail}`);
}

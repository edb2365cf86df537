import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";

/**
 * An encoder of flat protobuf messages (scalars, enums, strings, bytes and lists of them,
 * proto3 implicit presence), written into one reused buffer and copied out once: about 8×
 * cheaper than `toBinary`, which grows a fresh writer per message (bench/RESULTS.md). Its
 * bytes are `toBinary`'s, field for field (test/fast-encode.test.ts checks that on random
 * messages of every kind). It returns `undefined` for whatever it was not made for (a value of
 * an unexpected type, unknown fields), and the caller uses `toBinary`, which also reports
 * what is wrong with a bad value.
 * @internal
 */
export type FastEncoder = (message: Record<string, unknown>) => Uint8Array | undefined;

/** Field presence IMPLICIT (proto3 without `optional`): a zero value is not written. */
const IMPLICIT = 2;
const FLOAT32_MAX = 3.4028234663852886e38;
/** The largest buffer kept between messages (it grows for a bigger one, then goes). */
const MAX_KEPT = 1 << 20;

const encoders = new WeakMap<DescMessage, FastEncoder | null>();

/** The fast encoder of `schema`, or `undefined` when the message has a field it does not handle. @internal */
export function fastEncoder(schema: DescMessage): FastEncoder | undefined {
  let encoder = encoders.get(schema);
  if (encoder === undefined) {
    encoder = compile(schema);
    encoders.set(schema, encoder);
  }
  return encoder ?? undefined;
}

// The buffer every message is written into, grown as needed; a message is copied out of it.
let buf = new Uint8Array(1024);
let view = new DataView(buf.buffer);
let pos = 0;
const utf8 = new TextEncoder();

function reserve(size: number): void {
  if (pos + size <= buf.length) return;
  let length = buf.length * 2;
  while (length < pos + size) length *= 2;
  const grown = new Uint8Array(length);
  grown.set(buf.subarray(0, pos));
  buf = grown;
  view = new DataView(buf.buffer);
}

function varint32(value: number): void {
  // value is a uint32 here
  reserve(5);
  while (value > 0x7f) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
}

function int32(value: number): void {
  if (value >= 0) return varint32(value);
  // Negative: sign-extended to 64 bits, ten bytes, as protobuf encodes an int32.
  reserve(10);
  for (let i = 0; i < 9; i++) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>= 7;
  }
  buf[pos++] = 1;
}

function varint64(value: bigint): void {
  // value is a uint64 here
  reserve(10);
  while (value > 0x7fn) {
    buf[pos++] = Number(value & 0x7fn) | 0x80;
    value >>= 7n;
  }
  buf[pos++] = Number(value);
}

/** The UTF-8 length of `text` as TextEncoder encodes it (a lone surrogate is U+FFFD, 3 bytes). */
function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

function string(text: string): void {
  const length = utf8Length(text);
  varint32(length);
  reserve(length);
  utf8.encodeInto(text, buf.subarray(pos, pos + length));
  pos += length;
}

function bytes(data: Uint8Array): void {
  varint32(data.length);
  reserve(data.length);
  buf.set(data, pos);
  pos += data.length;
}

/** A 64-bit value as protobuf-es holds it (a bigint, or a string with jstype = JS_STRING), or undefined. */
function long(value: unknown): bigint | undefined {
  if (typeof value === "bigint") return value;
  if (typeof value === "string" && /^-?\d+$/.test(value)) return BigInt(value);
  return undefined;
}

const isInt32 = (v: unknown): v is number => typeof v === "number" && (v | 0) === v;
const isUint32 = (v: unknown): v is number => typeof v === "number" && v >>> 0 === v;

/**
 * Writes one value of `scalar` (without its tag); false when the value is not of the
 * scalar's type or range: the message then goes to toBinary.
 */
function value(scalar: ScalarType, v: unknown): boolean {
  switch (scalar) {
    case ScalarType.INT32:
      if (!isInt32(v)) return false;
      int32(v);
      return true;
    case ScalarType.UINT32:
      if (!isUint32(v)) return false;
      varint32(v);
      return true;
    case ScalarType.SINT32:
      if (!isInt32(v)) return false;
      varint32(((v << 1) ^ (v >> 31)) >>> 0);
      return true;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      if (typeof v !== "number" || (scalar === ScalarType.FIXED32 ? v >>> 0 !== v : (v | 0) !== v)) return false;
      reserve(4);
      view.setUint32(pos, v >>> 0, true);
      pos += 4;
      return true;
    case ScalarType.BOOL:
      if (typeof v !== "boolean") return false;
      reserve(1);
      buf[pos++] = v ? 1 : 0;
      return true;
    case ScalarType.STRING:
      if (typeof v !== "string") return false;
      string(v);
      return true;
    case ScalarType.BYTES:
      if (!(v instanceof Uint8Array)) return false;
      bytes(v);
      return true;
    case ScalarType.DOUBLE:
      if (typeof v !== "number") return false;
      reserve(8);
      view.setFloat64(pos, v, true);
      pos += 8;
      return true;
    case ScalarType.FLOAT:
      // Past the float range, toBinary throws: it says why.
      if (typeof v !== "number" || (Number.isFinite(v) && Math.abs(v) > FLOAT32_MAX)) return false;
      reserve(4);
      view.setFloat32(pos, v, true);
      pos += 4;
      return true;
  }
  const n = long(v);
  if (n === undefined) return false;
  const signed = scalar === ScalarType.INT64 || scalar === ScalarType.SFIXED64 || scalar === ScalarType.SINT64;
  if (signed ? BigInt.asIntN(64, n) !== n : BigInt.asUintN(64, n) !== n) return false;
  switch (scalar) {
    case ScalarType.INT64:
    case ScalarType.UINT64:
      varint64(BigInt.asUintN(64, n));
      return true;
    case ScalarType.SINT64:
      varint64(BigInt.asUintN(64, (n << 1n) ^ (n >> 63n)));
      return true;
    default:
      // FIXED64, SFIXED64
      reserve(8);
      view.setBigUint64(pos, BigInt.asUintN(64, n), true);
      pos += 8;
      return true;
  }
}

/** Wire type of a scalar: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32. */
function wireType(scalar: ScalarType): number {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 1;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return 2;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 5;
    default:
      return 0;
  }
}

/** Writes one field of a message; false to leave the message to toBinary. */
type FieldWriter = (message: Record<string, unknown>) => boolean;

function compile(schema: DescMessage): FastEncoder | null {
  const writers: FieldWriter[] = [];
  // Ordered by number, as toBinary writes them.
  for (const field of [...schema.fields].sort((a, b) => a.number - b.number)) {
    const writer = compileField(field);
    if (!writer) return null;
    writers.push(writer);
  }
  const typeName = schema.typeName;
  return (message) => {
    const unknown = message.$unknown as unknown[] | undefined;
    if (message.$typeName !== typeName || (unknown !== undefined && unknown.length > 0)) return undefined;
    pos = 0;
    let written: Uint8Array | undefined;
    try {
      for (let i = 0; i < writers.length; i++) if (!writers[i]!(message)) return undefined;
      written = buf.slice(0, pos);
    } finally {
      // One big message must not keep a big buffer alive for good.
      if (buf.length > MAX_KEPT) {
        buf = new Uint8Array(1024);
        view = new DataView(buf.buffer);
      }
    }
    return written;
  };
}

function compileField(field: DescField): FieldWriter | undefined {
  const name = field.localName;
  if (field.fieldKind === "scalar" || field.fieldKind === "enum") {
    if (field.oneof || field.presence !== IMPLICIT) return undefined;
    const scalar = field.fieldKind === "enum" ? ScalarType.INT32 : field.scalar;
    const tag = ((field.number << 3) | wireType(scalar)) >>> 0;
    // A zero value is not written (implicit presence), compared as toBinary compares it.
    const zero = zeroTest(field);
    return (message) => {
      const v = message[name];
      if (zero(v)) return true;
      varint32(tag);
      return value(scalar, v);
    };
  }
  if (field.fieldKind === "list" && (field.listKind === "scalar" || field.listKind === "enum")) {
    const scalar = field.listKind === "enum" ? ScalarType.INT32 : field.scalar;
    const type = wireType(scalar);
    if (field.packed && type !== 2) {
      const tag = ((field.number << 3) | 2) >>> 0;
      return (message) => {
        const list = message[name];
        if (!Array.isArray(list)) return false;
        if (list.length === 0) return true;
        varint32(tag);
        // The values first, then their length moved in front of them.
        const start = pos;
        for (const v of list) if (!value(scalar, v)) return false;
        const length = pos - start;
        const prefix = length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x200000 ? 3 : length < 0x10000000 ? 4 : 5;
        reserve(prefix);
        buf.copyWithin(start + prefix, start, pos);
        const end = pos + prefix;
        pos = start;
        varint32(length);
        pos = end;
        return true;
      };
    }
    const tag = ((field.number << 3) | type) >>> 0;
    return (message) => {
      const list = message[name];
      if (!Array.isArray(list)) return false;
      for (const v of list) {
        varint32(tag);
        if (!value(scalar, v)) return false;
      }
      return true;
    };
  }
  return undefined;
}

/** Whether a value is the zero value toBinary leaves out for a field of implicit presence. */
function zeroTest(field: DescField & { fieldKind: "scalar" | "enum" }): (v: unknown) => boolean {
  if (field.fieldKind === "enum") {
    const zero = field.enum.values[0]?.number ?? 0;
    return (v) => v === zero;
  }
  switch (field.scalar) {
    case ScalarType.BOOL:
      return (v) => v === false;
    case ScalarType.STRING:
      return (v) => v === "";
    case ScalarType.BYTES:
      return (v) => v instanceof Uint8Array && v.byteLength === 0;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (v) => Object.is(v, 0);
    default:
      // As toBinary: loosely, so that 0, 0n and "0" are all zero.
      // eslint-disable-next-line eqeqeq
      return (v) => v == 0;
  }
}

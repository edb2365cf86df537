/**
 * A deliberately plain reference decoder for the bimux envelope, written from the
 * protobuf wire-format spec and the Go implementations the Go bimux may be built
 * with, for the differential fuzz tests. Where decoders legitimately differ (how
 * strict to be about malformed or unusual input), the difference is a knob of a
 * {@link WireProfile}, so each disagreement can be named instead of waved through.
 *
 * Nothing here is fast or clever on purpose: one BigInt per varint, one branch per rule.
 */

/** How strict a decoder is where protobuf implementations differ. */
export interface WireProfile {
  readonly name: string;
  /** Largest 10th byte of a varint: 1 in Go (bits past 64 are an overflow error), 0x7f where they are dropped. */
  readonly tenthByteMax: number;
  /** Largest field number of a top-level tag. */
  readonly topFieldMax: bigint;
  /** Smallest and largest field number of a tag inside a group. */
  readonly nestedFieldMin: bigint;
  readonly nestedFieldMax: bigint;
  /** How many groups may be nested in one another. */
  readonly maxGroupDepth: number;
  /** Whether an end-group tag must name the group it ends. */
  readonly checkEndGroupField: boolean;
}

const MAX_U29 = (1n << 29n) - 1n;
const MAX_I32 = (1n << 31n) - 1n;

/** google.golang.org/protobuf (Go APIv2, golang/protobuf >= 1.4): protowire + impl/decode.go. */
export const GO_APIV2: WireProfile = {
  name: "go-apiv2",
  tenthByteMax: 1,
  topFieldMax: MAX_U29,
  nestedFieldMin: 1n,
  nestedFieldMax: MAX_I32,
  maxGroupDepth: 10_001,
  checkEndGroupField: true,
};

/**
 * golang/protobuf v1.3.5 (table_unmarshal.go), which conformance/ says the Go bimux
 * vectors were made with: tags are not range-checked beyond "not 0" at the top level,
 * and unknown groups are skipped by counting start/end tags (findEndGroup).
 */
export const GO_V13: WireProfile = {
  name: "go-v1.3.5",
  tenthByteMax: 1,
  topFieldMax: (1n << 61n) - 1n,
  nestedFieldMin: 0n,
  nestedFieldMax: (1n << 61n) - 1n,
  maxGroupDepth: Number.POSITIVE_INFINITY,
  checkEndGroupField: false,
};

/**
 * What bimux-ts's codec.ts says it does: tags must fit 32 bits (so field numbers
 * stay below 2^29, nested or not), bits past 64 in a varint are dropped as
 * protobuf-es drops them, and groups nest at most 32 deep (a guard of its own).
 */
export const BIMUX_TS: WireProfile = {
  name: "bimux-ts",
  tenthByteMax: 0x7f,
  topFieldMax: MAX_U29,
  nestedFieldMin: 1n,
  nestedFieldMax: MAX_U29,
  maxGroupDepth: 32,
  checkEndGroupField: true,
};

/** The four envelope fields as a Go decoder sees them (field 5 and up are unknown to Go). */
export interface ModelFrame {
  number: bigint;
  flag: number;
  route: number;
  /** Where `data` lies in the input. */
  dataStart: number;
  dataEnd: number;
}

export type ModelResult = { ok: true; frame: ModelFrame } | { ok: false; why: string };

class Malformed extends Error {}

/** Decodes `bytes` as a bimux `Message` the way a decoder with `profile` does. */
export function modelDecode(bytes: Uint8Array, profile: WireProfile): ModelResult {
  let pos = 0;
  const fail = (why: string): never => {
    throw new Malformed(why);
  };
  const varint = (): bigint => {
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      if (pos >= bytes.length) fail("truncated varint");
      const b = bytes[pos++]!;
      if (i === 9) {
        if (b > profile.tenthByteMax) fail(b >= 0x80 ? "varint longer than ten bytes" : "varint overflows 64 bits");
        return (value | (BigInt(b & 0x7f) << 63n)) & 0xffffffffffffffffn;
      }
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return value;
    }
    return fail("unreachable");
  };
  const need = (n: bigint): void => {
    if (n > BigInt(bytes.length - pos)) fail("field runs past the end");
  };
  const skip = (field: bigint, wireType: number, depth: number): void => {
    switch (wireType) {
      case 0:
        varint();
        return;
      case 1:
        need(8n);
        pos += 8;
        return;
      case 2: {
        const length = varint();
        need(length);
        pos += Number(length);
        return;
      }
      case 5:
        need(4n);
        pos += 4;
        return;
      case 3: {
        if (depth >= profile.maxGroupDepth) fail("groups nested too deeply");
        for (;;) {
          const tag = varint();
          const inner = tag >> 3n;
          if (inner < profile.nestedFieldMin || inner > profile.nestedFieldMax) fail("invalid nested field number");
          const innerType = Number(tag & 7n);
          if (innerType === 4) {
            if (profile.checkEndGroupField && inner !== field) fail("mismatched end-group tag");
            return;
          }
          skip(inner, innerType, depth + 1);
        }
      }
      default:
        fail(`wire type ${wireType} cannot be skipped here`);
    }
  };

  const frame: ModelFrame = { number: 0n, flag: 0, route: 0, dataStart: 0, dataEnd: 0 };
  try {
    while (pos < bytes.length) {
      const tag = varint();
      const field = tag >> 3n;
      if (field < 1n || field > profile.topFieldMax) fail("invalid field number");
      const wireType = Number(tag & 7n);
      if (field === 1n && wireType === 0) frame.number = varint();
      else if (field === 2n && wireType === 0) frame.flag = Number(BigInt.asIntN(32, varint()));
      else if (field === 3n && wireType === 0) frame.route = Number(BigInt.asIntN(32, varint()));
      else if (field === 4n && wireType === 2) {
        const length = varint();
        need(length);
        frame.dataStart = pos;
        pos += Number(length);
        frame.dataEnd = pos;
      } else {
        // Unknown field, or a known one with another wire type: proto3 skips it (Go: errUnknown).
        skip(field, wireType, 0);
      }
    }
  } catch (error) {
    if (error instanceof Malformed) return { ok: false, why: error.message };
    throw error;
  }
  return { ok: true, frame };
}

/** True when two model results say the same thing (both reject, or both accept the same fields). */
export function sameResult(a: ModelResult, b: ModelResult, bytes: Uint8Array): boolean {
  if (!a.ok || !b.ok) return a.ok === b.ok;
  const x = a.frame;
  const y = b.frame;
  return (
    x.number === y.number &&
    x.flag === y.flag &&
    x.route === y.route &&
    equalBytes(bytes.subarray(x.dataStart, x.dataEnd), bytes.subarray(y.dataStart, y.dataEnd))
  );
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------
// A structured description of protobuf records, for generating inputs that are
// valid, almost valid, or exotic (non-canonical varints, groups, wrong wire types).

export type FieldSpec =
  | { kind: "varint"; field: bigint; value: bigint; tagPad: number; valuePad: number }
  | { kind: "len"; field: bigint; payload: Uint8Array; tagPad: number; lengthPad: number; lengthDelta: number }
  | { kind: "fixed"; field: bigint; width: 4 | 8; payload: Uint8Array; tagPad: number }
  | { kind: "group"; field: bigint; inner: FieldSpec[]; endField: bigint; tagPad: number }
  | { kind: "raw"; bytes: Uint8Array };

/** Appends `value` as a varint, padded with `pad` redundant continuation bytes (capped at ten bytes in all). */
export function pushVarint(out: number[], value: bigint, pad = 0): void {
  const digits: number[] = [];
  let v = value & 0xffffffffffffffffn;
  do {
    digits.push(Number(v & 0x7fn));
    v >>= 7n;
  } while (v !== 0n);
  for (let i = 0; i < pad && digits.length < 10; i++) digits.push(0);
  for (let i = 0; i < digits.length; i++) out.push(i < digits.length - 1 ? digits[i]! | 0x80 : digits[i]!);
}

export function encodeSpecs(specs: readonly FieldSpec[]): Uint8Array {
  const out: number[] = [];
  const put = (spec: FieldSpec): void => {
    switch (spec.kind) {
      case "raw":
        for (const b of spec.bytes) out.push(b);
        return;
      case "varint":
        pushVarint(out, (spec.field << 3n) | 0n, spec.tagPad);
        pushVarint(out, spec.value, spec.valuePad);
        return;
      case "len": {
        pushVarint(out, (spec.field << 3n) | 2n, spec.tagPad);
        const length = BigInt(spec.payload.length + spec.lengthDelta);
        pushVarint(out, length < 0n ? 0n : length, spec.lengthPad);
        for (const b of spec.payload) out.push(b);
        return;
      }
      case "fixed":
        pushVarint(out, (spec.field << 3n) | (spec.width === 4 ? 5n : 1n), spec.tagPad);
        for (let i = 0; i < spec.width; i++) out.push(spec.payload[i] ?? 0);
        return;
      case "group":
        pushVarint(out, (spec.field << 3n) | 3n, spec.tagPad);
        for (const inner of spec.inner) put(inner);
        pushVarint(out, (spec.endField << 3n) | 4n);
        return;
    }
  };
  for (const spec of specs) put(spec);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------
// Byte-level mutations of an encoding.

export type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; value: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; count: number }
  | { op: "duplicate"; at: number; count: number; to: number }
  /** Lengthens whatever varint ends at `at` by one redundant byte (or bends the data there). */
  | { op: "extend"; at: number };

/** Applies `m` to `bytes`; positions are taken modulo the length so every mutation applies. */
export function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  const at = (x: number, span = n) => (span === 0 ? 0 : x % span);
  switch (m.op) {
    case "flip": {
      if (n === 0) return bytes;
      const out = bytes.slice();
      const p = at(m.at);
      out[p] = out[p]! ^ (1 << (m.bit & 7));
      return out;
    }
    case "set": {
      if (n === 0) return Uint8Array.of(m.value & 0xff);
      const out = bytes.slice();
      out[at(m.at)] = m.value & 0xff;
      return out;
    }
    case "truncate":
      return bytes.slice(0, at(m.at, n + 1));
    case "insert": {
      const p = at(m.at, n + 1);
      const out = new Uint8Array(n + m.bytes.length);
      out.set(bytes.subarray(0, p));
      out.set(m.bytes, p);
      out.set(bytes.subarray(p), p + m.bytes.length);
      return out;
    }
    case "delete": {
      const p = at(m.at, n + 1);
      const out = new Uint8Array(n - Math.min(m.count, n - p));
      out.set(bytes.subarray(0, p));
      out.set(bytes.subarray(p + m.count), p);
      return out;
    }
    case "duplicate": {
      if (n === 0) return bytes;
      const p = at(m.at);
      const chunk = bytes.subarray(p, Math.min(n, p + m.count));
      return mutate(bytes, { op: "insert", at: m.to, bytes: chunk.slice() });
    }
    case "extend": {
      if (n === 0) return bytes;
      const p = at(m.at);
      // A byte without the continuation bit ends a varint: give it the bit and a zero byte after.
      if (bytes[p]! & 0x80) return bytes;
      const out = new Uint8Array(n + 1);
      out.set(bytes.subarray(0, p + 1));
      out[p] = bytes[p]! | 0x80;
      out[p + 1] = 0;
      out.set(bytes.subarray(p + 1), p + 2);
      return out;
    }
  }
}

/**
 * Fuzz and property tests of what a peer can throw at bimux-ts: random bytes and
 * mutated encodings into the decoder (checked against protobuf-es and a reference
 * model of the Go decoders), and random/mutated frames into a live Muxer.
 *
 * Every input is bounded in size and every run in count, so the whole file stays fast.
 * FUZZ_SEED=<n> replays a run (fast-check prints the seed of a failure).
 */
import { getEventListeners } from "node:events";
import { fromBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BimuxError, EXTENSIONS_PROTOCOL, Flag, Muxer, decodeFrame, encodeFrame, type Frame, type MuxerOptions } from "@bimux/core";
import { createDuplexPair } from "@bimux/core/testing";
// The generated protobuf-es schema, one of the decoders the fuzzer compares: not part of the API.
import { MessageSchema } from "../src/gen/bimux/v1/message_pb.js";
import {
  BIMUX_TS,
  GO_APIV2,
  GO_V13,
  encodeSpecs,
  equalBytes,
  modelDecode,
  mutate,
  sameResult,
  type FieldSpec,
  type ModelResult,
  type Mutation,
} from "./fixtures/wire-model.js";

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const params = <T>(numRuns: number): fc.Parameters<T> => (seed === undefined ? { numRuns } : { numRuns, seed });

const MAX_U64 = 0xffffffffffffffffn;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Frames exercised, by test; printed at the end so the count shows in CI output. */
const exercised: Record<string, number> = {};
const count = (name: string, n = 1) => (exercised[name] = (exercised[name] ?? 0) + n);

// ---------------------------------------------------------------------------
// Arbitraries

const uint64 = fc.oneof(
  { arbitrary: fc.bigInt({ min: 0n, max: 300n }), weight: 3 },
  { arbitrary: fc.bigInt({ min: 0n, max: MAX_U64 }), weight: 2 },
  { arbitrary: fc.constantFrom(127n, 128n, 2n ** 32n - 1n, 2n ** 32n, MAX_SAFE, MAX_SAFE + 1n, 2n ** 63n, MAX_U64), weight: 1 },
);
const int32 = fc.oneof(fc.integer({ min: -3, max: 12 }), fc.integer({ min: -2147483648, max: 2147483647 }));
const payload = fc.uint8Array({ maxLength: 24 });

const frameArb: fc.Arbitrary<Frame> = fc.record({
  number: uint64.map((n) => (n <= MAX_SAFE ? Number(n) : n)),
  flag: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 7 }), weight: 4 }, { arbitrary: int32, weight: 1 }),
  route: int32,
  data: payload,
});

/** Field numbers: the envelope's own (any wire type), its neighbours, and the edges of the range. */
const fieldNumber = fc.oneof(
  { arbitrary: fc.bigInt({ min: 1n, max: 6n }), weight: 6 },
  { arbitrary: fc.bigInt({ min: 7n, max: 2n ** 29n - 1n }), weight: 2 },
  { arbitrary: fc.constantFrom(0n, 15n, 16n, 2047n, 2n ** 29n - 1n, 2n ** 29n, 2n ** 31n - 1n, 2n ** 31n), weight: 1 },
);
const pad = fc.oneof({ arbitrary: fc.constant(0), weight: 6 }, { arbitrary: fc.integer({ min: 1, max: 10 }), weight: 1 });

const fieldSpec: fc.Arbitrary<FieldSpec> = fc.letrec<{ spec: FieldSpec }>((tie) => ({
  spec: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    {
      arbitrary: fc.record({ kind: fc.constant("varint" as const), field: fieldNumber, value: uint64, tagPad: pad, valuePad: pad }),
      weight: 5,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant("len" as const),
        field: fieldNumber,
        payload,
        tagPad: pad,
        lengthPad: pad,
        lengthDelta: fc.oneof({ arbitrary: fc.constant(0), weight: 8 }, { arbitrary: fc.integer({ min: -3, max: 3 }), weight: 1 }),
      }),
      weight: 4,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant("fixed" as const),
        field: fieldNumber,
        width: fc.constantFrom(4 as const, 8 as const),
        payload: fc.uint8Array({ minLength: 8, maxLength: 8 }),
        tagPad: pad,
      }),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant("group" as const),
        field: fieldNumber,
        inner: fc.array(tie("spec"), { maxLength: 3 }),
        endField: fc.oneof({ arbitrary: fc.constant(-1n), weight: 5 }, { arbitrary: fieldNumber, weight: 1 }),
        tagPad: pad,
      }),
      weight: 1,
    },
    { arbitrary: fc.record({ kind: fc.constant("raw" as const), bytes: fc.uint8Array({ maxLength: 4 }) }), weight: 1 },
  ),
})).spec.map(function matchEnd(spec): FieldSpec {
  // endField -1 means "the matching end tag".
  if (spec.kind !== "group") return spec;
  return { ...spec, endField: spec.endField === -1n ? spec.field : spec.endField, inner: spec.inner.map(matchEnd) };
});

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff, 0x0b, 0x0c, 0x22, 0x08) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 12 }), to: fc.nat() }),
  fc.record({ op: fc.constant("extend" as const), at: fc.nat() }),
);

/** Bytes made mostly of the ones that mean something in this format. */
const protoishBytes = fc.uint8Array({ maxLength: 40 }).chain((noise) =>
  fc
    .array(fc.oneof(fc.constantFrom(0x08, 0x10, 0x18, 0x22, 0x28, 0x0b, 0x0c, 0x0d, 0x09, 0x80, 0xff, 0x00, 0x01, 0x7f), fc.integer({ min: 0, max: 255 })), {
      maxLength: 40,
    })
    .map((bytes) => (noise.length % 2 ? Uint8Array.from(bytes) : noise)),
);

// ---------------------------------------------------------------------------
// The decoder checks, applied to every input

interface Tally {
  accepted: number;
  rejected: number;
  /** decodeFrame vs protobuf-es disagreements, by direction and reason. */
  esDisagreements: Map<string, number>;
  /** Inputs where a Go decoder would decide otherwise than bimux-ts, by profile and direction. */
  goDeviations: Map<string, number>;
}
const tally: Tally = { accepted: 0, rejected: 0, esDisagreements: new Map(), goDeviations: new Map() };
const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

type Outcome = { ok: true; frame: Frame } | { ok: false; error: unknown };

function decodeOurs(bytes: Uint8Array): Outcome {
  try {
    return { ok: true, frame: decodeFrame(bytes) };
  } catch (error) {
    return { ok: false, error };
  }
}

type EsOutcome = { ok: true; number: bigint; flag: number; route: number; data: Uint8Array; timeout: number } | { ok: false };

function decodeEs(bytes: Uint8Array): EsOutcome {
  try {
    const m = fromBinary(MessageSchema, bytes);
    return { ok: true, number: m.number, flag: m.flag, route: m.route, data: m.data, timeout: (m as { timeout?: number }).timeout ?? 0 };
  } catch {
    return { ok: false };
  }
}

/** The frame decodeFrame returned, as a model result, for comparing with the model. */
function asModel(outcome: Outcome, bytes: Uint8Array): ModelResult {
  if (!outcome.ok) return { ok: false, why: "threw" };
  const f = outcome.frame;
  const start = f.data.length === 0 ? 0 : f.data.byteOffset - bytes.byteOffset;
  return { ok: true, frame: { number: BigInt(f.number), flag: f.flag, route: f.route, dataStart: start, dataEnd: start + f.data.length } };
}

/**
 * Checks one input against every oracle. Throws (with the input in hex) on a real failure.
 */
function checkDecode(bytes: Uint8Array): void {
  const ours = decodeOurs(bytes);
  const where = () => `input ${hex(bytes)}`;

  // 1. Safety: a well-formed Frame, or a protocol BimuxError, nothing else.
  if (ours.ok) {
    tally.accepted++;
    const { number, flag, route, data } = ours.frame;
    if (typeof number === "number") {
      expect(Number.isSafeInteger(number) && number >= 0, where()).toBe(true);
    } else {
      expect(typeof number, where()).toBe("bigint");
      // A bigint only where a number would lose bits, and never past uint64.
      expect(number > MAX_SAFE && number <= MAX_U64, where()).toBe(true);
    }
    expect(Number.isInteger(flag) && flag >= -2147483648 && flag <= 2147483647, where()).toBe(true);
    expect(Number.isInteger(route) && route >= -2147483648 && route <= 2147483647, where()).toBe(true);
    expect(data, where()).toBeInstanceOf(Uint8Array);
    if (data.length > 0) {
      // A view into the input, not a copy and not past its end.
      expect(data.buffer === bytes.buffer, where()).toBe(true);
      expect(data.byteOffset >= bytes.byteOffset && data.byteOffset + data.length <= bytes.byteOffset + bytes.length, where()).toBe(true);
    }
  } else {
    tally.rejected++;
    if (!(ours.error instanceof BimuxError) || ours.error.code !== "protocol") {
      throw new Error(`decodeFrame threw ${String(ours.error)} (not a protocol BimuxError) on ${where()}`, { cause: ours.error });
    }
  }

  // 2. The reference model. bimux-ts must decide as Go does, except where its documented
  //    choices (profile BIMUX_TS) differ from Go's; there either outcome is accepted.
  const mine = asModel(ours, bytes);
  const go = modelDecode(bytes, GO_APIV2);
  const ts = modelDecode(bytes, BIMUX_TS);
  if (!sameResult(mine, go, bytes)) {
    if (sameResult(go, ts, bytes) || !sameResult(mine, ts, bytes)) {
      throw new Error(
        `decodeFrame disagrees with the reference decoder on ${where()}: ours ${show(mine)}, go ${show(go)}, bimux-ts profile ${show(ts)}`,
      );
    }
  }
  if (!sameResult(mine, go, bytes)) bump(tally.goDeviations, `${GO_APIV2.name}: ${go.ok ? "go accepts" : `go rejects (${go.why})`}, bimux-ts ${mine.ok ? "accepts" : `rejects (${ts.ok ? "?" : ts.why})`}`);
  const v13 = modelDecode(bytes, GO_V13);
  if (!sameResult(mine, v13, bytes)) bump(tally.goDeviations, `${GO_V13.name}: ${v13.ok ? "go accepts" : `go rejects (${v13.why})`}, bimux-ts ${mine.ok ? "accepts" : `rejects (${ts.ok ? "?" : ts.why})`}`);

  // 3. Differential with protobuf-es, the generated schema's own decoder.
  const es = decodeEs(bytes);
  const agree =
    ours.ok === es.ok &&
    (!ours.ok ||
      !es.ok ||
      (BigInt(ours.frame.number) === es.number &&
        ours.frame.flag === es.flag &&
        ours.frame.route === es.route &&
        equalBytes(ours.frame.data, es.data) &&
        (ours.frame.timeout ?? 0) === es.timeout));
  if (!agree) {
    // Legitimate only where bimux-ts does what the Go decoder does (checked in 2.) and
    // protobuf-es does not: name the reason, so the report can list every kind seen.
    if (!sameResult(mine, go, bytes) && sameResult(mine, ts, bytes) && !sameResult(go, ts, bytes)) {
      bump(tally.esDisagreements, `${ours.ok ? "ours accepts" : "ours rejects"}, protobuf-es ${es.ok ? "accepts" : "rejects"}: a rule of bimux-ts's own (see "go differs")`);
    } else {
      expect(sameResult(mine, go, bytes), `protobuf-es disagreement not explained by the Go decoder on ${where()}`).toBe(true);
      bump(tally.esDisagreements, `${ours.ok ? "ours accepts" : "ours rejects"}, protobuf-es ${es.ok ? "accepts" : "rejects"}: ${esReason(bytes, ours, es)}`);
    }
  }
}

function show(r: ModelResult): string {
  return r.ok ? `accepts {number ${r.frame.number}, flag ${r.frame.flag}, route ${r.frame.route}, data [${r.frame.dataStart}, ${r.frame.dataEnd})}` : `rejects (${r.why})`;
}

/**
 * Why protobuf-es decided otherwise, from what the input contains. protobuf-es 2.x
 * reads a known field by its declared type whatever the wire type says, skips an
 * unknown varint of any length, reads lengths as uint32, and refuses tags over five
 * bytes; the Go decoders (and bimux-ts) do none of these.
 */
function esReason(bytes: Uint8Array, ours: Outcome, es: EsOutcome): string {
  const reasons = new Set<string>();
  let pos = 0;
  const varint = (): { value: bigint; length: number } | undefined => {
    let value = 0n;
    const start = pos;
    for (let i = 0; pos < bytes.length; i++) {
      const b = bytes[pos++]!;
      if (i < 10) value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return { value: value & MAX_U64, length: pos - start };
    }
    return undefined;
  };
  // A flat walk of the records, into groups too; good enough to name the usual suspects.
  while (pos < bytes.length) {
    const tag = varint();
    if (!tag) break;
    if (tag.length > 5) reasons.add("a tag over five bytes (protobuf-es refuses it; Go reads it)");
    const field = tag.value >> 3n;
    const wireType = Number(tag.value & 7n);
    if (field >= 1n && field <= 5n && wireType !== (field === 4n ? 2 : 0)) {
      reasons.add("a known field with another wire type (protobuf-es reads it as declared; Go skips it as unknown)");
    }
    if (wireType === 0) {
      const v = varint();
      if (v && v.length > 10) reasons.add("a varint over ten bytes (protobuf-es skips it; Go refuses)");
    } else if (wireType === 2) {
      const v = varint();
      if (!v) break;
      if (v.value > 0xffffffffn) reasons.add("a length over 32 bits (protobuf-es keeps the low 32 bits; Go refuses)");
      pos += Number(v.value & 0xffffffffn);
    } else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else if (wireType !== 3 && wireType !== 4) break;
  }
  if (reasons.size === 0) reasons.add(ours.ok && es.ok ? "both accept, fields differ" : "other");
  return [...reasons].sort().join(" + ");
}

// ---------------------------------------------------------------------------

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(() => {
  process.on("unhandledRejection", onUnhandled);
  process.on("uncaughtException", onUnhandled);
});

afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
  process.off("uncaughtException", onUnhandled);
  const total = Object.values(exercised).reduce((a, b) => a + b, 0);
  const lines = [
    `fuzz: ${total} frames exercised (${Object.entries(exercised)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")})`,
    `fuzz: decodeFrame accepted ${tally.accepted}, rejected ${tally.rejected}`,
    ...[...tally.esDisagreements].sort((a, b) => b[1] - a[1]).map(([k, v]) => `fuzz: protobuf-es differs (${v}x): ${k}`),
    ...[...tally.goDeviations].sort((a, b) => b[1] - a[1]).map(([k, v]) => `fuzz: go differs (${v}x): ${k}`),
  ];
  console.log(lines.join("\n"));
});

/**
 * A fixed amount of work (numRuns), not a speed check: about 5 s here on an idle machine,
 * several times that on a loaded one, where the default 20 s would fail a decoder that is right.
 */
const FUZZ_TIMEOUT_MS = 120_000;

describe("decodeFrame under fuzzing", { timeout: FUZZ_TIMEOUT_MS }, () => {
  it("takes random bytes: a frame in range or a protocol error, as protobuf-es and the Go decoder decide", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 48 }), protoishBytes), { minLength: 12, maxLength: 12 }), (inputs) => {
        for (const bytes of inputs) checkDecode(bytes);
        count("random bytes", inputs.length);
      }),
      params(3000),
    );
  });

  it("takes valid encodings mutated by bit flips, truncation, insertion, deletion, duplication and varint extension", () => {
    fc.assert(
      fc.property(frameArb, fc.array(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), { minLength: 10, maxLength: 10 }), (frame, chains) => {
        const valid = encodeFrame(frame);
        const back = decodeFrame(valid);
        expect(BigInt(back.number)).toBe(BigInt(frame.number));
        expect([back.flag, back.route]).toEqual([frame.flag, frame.route]);
        checkDecode(valid);
        for (const chain of chains) {
          let bytes = valid;
          for (const m of chain) {
            bytes = mutate(bytes, m);
            checkDecode(bytes);
          }
          count("mutated encodings", chain.length);
        }
        count("valid encodings");
      }),
      params(2700),
    );
  });

  it("takes hand-built records: duplicated and reordered fields, wrong wire types, padded varints, unknown fields and groups", () => {
    fc.assert(
      fc.property(fc.array(fieldSpec, { maxLength: 8 }), fc.array(mutationArb, { maxLength: 2 }), (specs, mutations) => {
        let bytes = encodeSpecs(specs);
        checkDecode(bytes);
        // The same records once more, in reverse: later fields win, unknown ones are skipped.
        checkDecode(encodeSpecs([...specs, ...specs.slice().reverse()]));
        for (const m of mutations) {
          bytes = mutate(bytes, m);
          checkDecode(bytes);
        }
        count("structured records", 2 + mutations.length);
      }),
      params(4000),
    );
  });

  it("decodes groups nested up to its limit, and refuses deeper ones with a protocol error", () => {
    // Not something random input reaches: the guard against deep recursion, at its edge.
    const nest = (depth: number) => {
      const open = Array.from({ length: depth }, () => 0x5b); // field 11, start group
      const close = Array.from({ length: depth }, () => 0x5c); // field 11, end group
      return Uint8Array.from([0x08, 0x07, ...open, ...close, 0x18, 0x02]);
    };
    for (const depth of [1, 31, 32]) {
      expect(decodeFrame(nest(depth))).toMatchObject({ number: 7, route: 2 });
      checkDecode(nest(depth));
    }
    for (const depth of [33, 5000]) {
      let caught: unknown;
      try {
        decodeFrame(nest(depth));
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(BimuxError);
      expect((caught as BimuxError).code).toBe("protocol");
      checkDecode(nest(depth));
    }
    count("nested groups", 5);
  });
});

// ---------------------------------------------------------------------------
// The Muxer, fed from the far end of an in-memory pair

type Message = { text: string } | { bytes: Uint8Array };

/**
 * What a misbehaving (or merely unusual) peer sends: well-formed frames, replies to the
 * muxer's own calls, stray replies, pings and cancels, unknown fields, mutated and
 * random bytes, and now and then a text message.
 */
const messageArb = (calls: number): fc.Arbitrary<Message> => {
  const number = fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: calls + 2 }), weight: 6 },
    { arbitrary: uint64.map((n): number | bigint => (n <= MAX_SAFE ? Number(n) : n)), weight: 1 },
  );
  const frame = fc.record({
    number,
    flag: fc.oneof(
      { arbitrary: fc.constantFrom(Flag.request, Flag.response, Flag.oneway, Flag.error), weight: 12 },
      { arbitrary: fc.constantFrom(4, 5, 6), weight: 2 },
      { arbitrary: int32, weight: 1 },
    ),
    route: fc.oneof({ arbitrary: fc.integer({ min: -1, max: 9 }), weight: 5 }, { arbitrary: int32, weight: 1 }),
    data: payload,
  });
  return fc.oneof(
    { arbitrary: frame.map((f) => ({ bytes: encodeFrame(f) })), weight: 10 },
    {
      // A valid frame with unknown fields around it.
      arbitrary: fc
        .tuple(frame, fc.array(fieldSpec, { maxLength: 2 }))
        .map(([f, extra]) => ({ bytes: Uint8Array.from([...encodeSpecs(extra.filter((s) => s.kind !== "raw" && s.field > 6n)), ...encodeFrame(f)]) })),
      weight: 2,
    },
    { arbitrary: fc.tuple(frame, fc.array(mutationArb, { minLength: 1, maxLength: 2 })).map(([f, ms]) => ({ bytes: ms.reduce(mutate, encodeFrame(f)) })), weight: 3 },
    { arbitrary: fc.array(fieldSpec, { maxLength: 4 }).map((specs) => ({ bytes: encodeSpecs(specs) })), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 16 }).map((bytes) => ({ bytes })), weight: 1 },
    { arbitrary: fc.string({ maxLength: 8 }).map((text) => ({ text })), weight: 1 },
  );
};

/** Routes 0–7 have handlers: route % 4 picks how the handler behaves. Other routes have none. */
type RouteKind = "sync" | "async" | "throws" | "never";
const routeKind = (route: number): RouteKind | undefined =>
  route >= 0 && route <= 7 ? (["sync", "async", "throws", "never"] as const)[route % 4] : undefined;

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Resolves to how `promise` settled, or "hung" if it had not within `ms`. */
async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | "hung"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), ms)));
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe("Muxer under fuzzed input", { timeout: FUZZ_TIMEOUT_MS }, () => {
  it("stays open on valid frames, closes with 1002/1003 on bad ones, and settles every call either way", async () => {
    const CALLS = 4;
    await fc.assert(
      fc.asyncProperty(
        fc.array(messageArb(CALLS), { minLength: 1, maxLength: 16 }),
        fc.boolean(),
        fc.constantFrom("close" as const, "drop" as const, "peer-close" as const),
        async (messages, negotiated, ending) => {
          const [near, far] = createDuplexPair({ protocol: negotiated ? EXTENSIONS_PROTOCOL : "" });
          const received: Frame[] = [];
          let farClosed: { code: number } | undefined;
          far.open({ message: (d) => received.push(decodeFrame(d as Uint8Array)), closed: (code) => (farClosed = { code }) });

          const reported: unknown[] = [];
          const neverSignals: AbortSignal[] = [];
          const handler: NonNullable<MuxerOptions["onRpc"]> = (route, data, _m, ctx) => {
            switch (routeKind(route)) {
              case "sync":
                return data;
              case "async":
                return new Promise((resolve) => setImmediate(() => resolve(data)));
              case "throws":
                throw new Error(`handler for ${route} failed`);
              default:
                neverSignals.push(ctx.signal);
                return new Promise<Uint8Array>(() => {});
            }
          };
          const handlers: Record<number, typeof handler> = {};
          for (let r = 0; r <= 7; r++) handlers[r] = handler;
          const muxer = new Muxer(near, {
            handlers,
            onOneway: (route) => {
              if (route === 1) throw new Error("one-way handler failed");
            },
            onError: (error) => reported.push(error),
          });

          // Calls of our own in flight, some with a signal, before the peer says anything.
          const signals = Array.from({ length: CALLS }, (_, i) => (i % 2 ? new AbortController().signal : undefined));
          const calls = signals.map((signal, i) => muxer.rpc(i, Uint8Array.of(i), { signal }));
          const outcomes = calls.map((c) => settleWithin(c, 2000));

          for (const m of messages) {
            if ("text" in m) far.sendText(m.text);
            else far.send(m.bytes);
          }
          count("frames into a muxer", messages.length);
          for (let i = 0; i < 3; i++) await tick();

          // What the muxer must have made of it, message by message.
          const known = new Set<number>([Flag.request, Flag.response, Flag.oneway, Flag.error]);
          const extension = new Set<number>([Flag.cancel, Flag.ping, Flag.pong]);
          let firstBad = -1;
          let badCode = 0;
          let firstExtension = -1;
          const decoded = messages.map((m, i) => {
            if ("text" in m) {
              if (firstBad < 0) [firstBad, badCode] = [i, 1003];
              return undefined;
            }
            try {
              const f = decodeFrame(m.bytes);
              if (!known.has(f.flag) && !extension.has(f.flag) && firstBad < 0) [firstBad, badCode] = [i, 1002];
              if (extension.has(f.flag) && firstExtension < 0) firstExtension = i;
              return f;
            } catch {
              if (firstBad < 0) [firstBad, badCode] = [i, 1002];
              return undefined;
            }
          });
          const info = muxer.closeDetails;
          // A peer that did not negotiate the extensions may be told off for using them (1002), or not.
          const extensionsMayClose = !negotiated && firstExtension >= 0 && (firstBad < 0 || firstExtension < firstBad);
          if (info) {
            expect(info.initiator).toBe("local");
            expect(info.error).toBeInstanceOf(BimuxError);
            expect(info.error!.code).toBe("protocol");
            if (extensionsMayClose) expect([1002, badCode]).toContain(info.code);
            else expect(info.code).toBe(badCode);
            expect((await muxer.wait()).error?.code).toBe("protocol");
          } else {
            expect(firstBad, "the muxer stayed open after a malformed message").toBe(-1);
          }
          // Messages before `surely` were processed; from `possibly` on, none were.
          const possibly = info && firstBad >= 0 ? firstBad : messages.length;
          const surely = info && extensionsMayClose ? firstExtension : possibly;

          // Replies: each request answered synchronously got one, with its number and route,
          // and nothing was answered that was not asked.
          const key = (n: number | bigint, r: number) => `${String(n)}/${r}`;
          const answers = new Map<string, number>();
          for (const f of received) if (f.flag === Flag.response || f.flag === Flag.error) bump(answers, key(f.number, f.route));
          const asked = new Map<string, number>();
          const askedSync = new Map<string, number>();
          decoded.forEach((f, i) => {
            if (!f || f.flag !== Flag.request || i >= possibly) return;
            bump(asked, key(f.number, f.route));
            const kind = routeKind(f.route);
            if (i < surely && kind !== "async" && kind !== "never") bump(askedSync, key(f.number, f.route));
          });
          for (const [k, n] of answers) expect(n, `answers to request ${k}`).toBeLessThanOrEqual(asked.get(k) ?? 0);
          for (const [k, n] of askedSync) expect(answers.get(k) ?? 0, `answers to request ${k}`).toBeGreaterThanOrEqual(n);
          if (negotiated && !info) {
            const pings = decoded.filter((f) => f?.flag === Flag.ping).length;
            expect(received.filter((f) => f.flag === Flag.pong).length, "pongs for pings").toBe(pings);
          }
          for (const error of reported) expect(error).toBeInstanceOf(BimuxError);

          // Now end the connection, one way or another: everything must settle.
          if (ending === "close") muxer.close();
          else if (ending === "drop") far.drop();
          else far.close(1000, "bye");
          await muxer.wait();
          expect(muxer.pendingCalls).toBe(0);
          expect(muxer.servingCalls).toBe(0);
          // Every handler still running when the connection went has been told so.
          for (const signal of neverSignals) expect(signal.aborted, "a running handler's signal did not abort on close").toBe(true);

          const settled = await Promise.all(outcomes);
          settled.forEach((s, i) => {
            expect(s, `call #${i + 1} hung`).not.toBe("hung");
            if (s === "hung") return;
            // The first reply frame for this call's number decides it, if it came before the close.
            const j = decoded.findIndex((f, j) => j < possibly && f?.number === i + 1 && (f.flag === Flag.response || f.flag === Flag.error));
            const reply = j >= 0 ? decoded[j]! : undefined;
            if ("value" in s) {
              expect(reply?.flag, `call #${i + 1} resolved without a response`).toBe(Flag.response);
              expect(equalBytes(s.value, reply!.data)).toBe(true);
              return;
            }
            expect(s.error).toBeInstanceOf(BimuxError);
            const error = s.error as BimuxError;
            if (error.remote) expect(reply?.flag, `call #${i + 1} failed remotely without an error reply`).toBe(Flag.error);
            else {
              expect(error.code).toBe("closed");
              expect(j < 0 || j >= surely, `call #${i + 1} closed although its reply came first`).toBe(true);
            }
          });
          for (const signal of signals) if (signal) expect(getEventListeners(signal, "abort")).toHaveLength(0);
          await tick();
          expect(farClosed, "the far end never heard of the close").toBeDefined();
        },
      ),
      params(1500),
    );
    expect(unhandled).toEqual([]);
  });

  it("aborts every running handler on close, even when the peer reused a request number while it was in flight", async () => {
    // What the fuzzer above shrinks to: a peer (buggy, or hostile) sends request #5 twice.
    // Go would serve and answer both; whatever bimux-ts makes of it, a handler still
    // running when the connection closes must see its signal abort (docs/protocol.md),
    // or it waits forever and holds on to whatever it holds.
    const [near, far] = createDuplexPair();
    far.open({ message: () => {}, closed: () => {} });
    const signals: AbortSignal[] = [];
    const muxer = new Muxer(near, {
      keepalive: false,
      onRpc: (_route, _data, _muxer, ctx) => {
        signals.push(ctx.signal);
        return new Promise<Uint8Array>(() => {});
      },
    });
    far.send(encodeFrame({ number: 5, flag: Flag.request, route: 7, data: new Uint8Array() }));
    far.send(encodeFrame({ number: 5, flag: Flag.request, route: 3, data: new Uint8Array() }));
    await tick();
    expect(signals).toHaveLength(2);
    // Only one answer can go out on #5: the earlier call is given up at once.
    expect(signals.map((s) => s.aborted)).toEqual([true, false]);
    muxer.close();
    expect(muxer.servingCalls).toBe(0);
    expect(signals.map((s) => s.aborted)).toEqual([true, true]);
  });

  it("settles a call's reply exactly as the first matching response or error frame says", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ number: fc.integer({ min: 1, max: 3 }), flag: fc.constantFrom(Flag.response, Flag.error), data: payload }), {
          minLength: 1,
          maxLength: 6,
        }),
        async (replies) => {
          const [near, far] = createDuplexPair();
          far.open({ message: () => {}, closed: () => {} });
          const muxer = new Muxer(near, { keepalive: false });
          const calls = [1, 2, 3].map((i) => settleWithin(muxer.rpc(i, new Uint8Array()), 2000));
          for (const r of replies) far.send(encodeFrame({ ...r, route: 0 }));
          count("frames into a muxer", replies.length);
          await tick();
          muxer.close();
          const settled = await Promise.all(calls);
          settled.forEach((s, i) => {
            const first = replies.find((r) => r.number === i + 1);
            expect(s).not.toBe("hung");
            if (!first) expect(s).toMatchObject({ error: { code: "closed" } });
            else if (first.flag === Flag.response) expect(s).toEqual({ value: first.data });
            else expect(s).toMatchObject({ error: { remote: true } });
          });
          expect(muxer.closed).toBe(true);
        },
      ),
      params(500),
    );
    expect(unhandled).toEqual([]);
  });
});

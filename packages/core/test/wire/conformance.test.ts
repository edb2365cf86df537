import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, type Frame } from "@bimux/core";
// The generated protobuf-es schema, a second opinion on the vectors: not part of the API.
import { MessageSchema } from "../../src/gen/bimux/v1/message_pb.js";

interface Vector {
  name: string;
  number: string;
  flag: number;
  route: number;
  dataHex: string;
  wireHex: string;
}

const vectorsPath = fileURLToPath(new URL("../../../../conformance/go-bimux-wire-vectors.json", import.meta.url));
const { vectors } = JSON.parse(readFileSync(vectorsPath, "utf8")) as { vectors: Vector[] };

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const unhex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));

function frameOf(v: Vector): Frame {
  const n = BigInt(v.number);
  return { number: n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n, flag: v.flag, route: v.route, data: unhex(v.dataHex) };
}

describe("Go bimux wire vectors", () => {
  it("has the vectors (and the copy in this repo matches ../shared when it is there)", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(14);
    const shared = fileURLToPath(new URL("../../../../shared/conformance/go-bimux-wire-vectors.json", import.meta.url));
    if (existsSync(shared)) expect(readFileSync(vectorsPath, "utf8")).toBe(readFileSync(shared, "utf8"));
  });

  for (const v of vectors) {
    it(`encodes ${v.name} byte for byte`, () => {
      expect(hex(encodeFrame(frameOf(v)))).toBe(v.wireHex);
    });

    it(`decodes ${v.name}`, () => {
      const frame = decodeFrame(unhex(v.wireHex));
      expect(BigInt(frame.number)).toBe(BigInt(v.number));
      // Numbers that fit a double come back as numbers, the rest as bigints: nothing is rounded.
      expect(typeof frame.number).toBe(BigInt(v.number) <= BigInt(Number.MAX_SAFE_INTEGER) ? "number" : "bigint");
      expect(frame.flag).toBe(v.flag);
      expect(frame.route).toBe(v.route);
      expect(hex(frame.data)).toBe(v.dataHex);
    });

    it(`agrees with the generated schema on ${v.name}`, () => {
      const message = fromBinary(MessageSchema, unhex(v.wireHex));
      expect(message.number).toBe(BigInt(v.number));
      expect(message.flag).toBe(v.flag);
      expect(message.route).toBe(v.route);
      expect(hex(toBinary(MessageSchema, create(MessageSchema, message)))).toBe(v.wireHex);
    });
  }
});

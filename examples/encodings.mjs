// Recipe: payloads are bytes; the encoding is the application's. JSON, protobuf
// (@bufbuild/protobuf) and MessagePack (@msgpack/msgpack), one route each.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { StructSchema, TimestampSchema, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { decode as unpack, encode as pack } from "@msgpack/msgpack";
import { dial, serve } from "@bimux/node";

// JSON: the simplest, for small messages between your own code.
const json = {
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

const JSON_ROUTE = 1;
const PROTOBUF_ROUTE = 2;
const MSGPACK_ROUTE = 3;

const server = await serve({
  host: "127.0.0.1",
  port: 0,
  path: "/mux",
  handlers: {
    [JSON_ROUTE]: (_route, data) => {
      const { a, b } = json.decode(data);
      return json.encode({ sum: a + b });
    },
    // Protobuf: typed and compact, and what a Go peer speaks. These are well-known types;
    // your own messages come from a .proto through buf and protoc-gen-es, as bimux's envelope does.
    [PROTOBUF_ROUTE]: (_route, data) => {
      const request = fromBinary(StructSchema, data);
      const seconds = request.fields.epochSeconds?.kind.value;
      return toBinary(TimestampSchema, timestampFromDate(new Date(Number(seconds) * 1000)));
    },
    // MessagePack: JSON's data model plus binary, smaller on the wire.
    [MSGPACK_ROUTE]: (_route, data) => {
      const { name, blob } = unpack(data);
      return pack({ greeting: `hello ${name}`, size: blob.length, blob });
    },
  },
});
const client = await dial(`ws://127.0.0.1:${server.port}/mux`);

const sum = json.decode(await client.rpc(JSON_ROUTE, json.encode({ a: 40, b: 2 })));
console.log(`json: ${JSON.stringify(sum)}`);

const request = create(StructSchema, { fields: { epochSeconds: { kind: { case: "numberValue", value: 86400 } } } });
const stamp = fromBinary(TimestampSchema, await client.rpc(PROTOBUF_ROUTE, toBinary(StructSchema, request)));
console.log(`protobuf: ${timestampDate(stamp).toISOString()}`);

const reply = unpack(await client.rpc(MSGPACK_ROUTE, pack({ name: "msgpack", blob: new Uint8Array([1, 2, 3]) })));
console.log(`msgpack: ${reply.greeting}, ${reply.size} bytes, ${reply.blob instanceof Uint8Array ? "binary kept" : "binary lost"}`);

client.close();
await server.close();

import {
  create,
  fromBinary,
  getOption,
  hasOption,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { BimuxError } from "@bimux/core";
import { oneway as onewayOption, route as routeOption } from "./gen/bimux/v1/options_pb.js";
import { fastEncoder } from "./fast-encode.js";
import { checkRoutes, codecError, type MethodEntry, type ServiceTable } from "./table.js";

/** True when the message `O` is google.protobuf.Empty: a one-way method's reply, and one a handler may leave out. */
export type IsEmpty<O extends DescMessage> = MessageShape<O> extends { $typeName: "google.protobuf.Empty" } ? true : false;

/**
 * The checked methods of a protobuf service, as protoc-gen-es generated its descriptor:
 * routes and one-way flags from the `(bimux.v1.route)` and `(bimux.v1.oneway)` options,
 * read with `@bufbuild/protobuf`'s reflection. Throws `invalid_argument` for a method
 * with no route, two methods on one route, a stream, or a one-way method whose reply is
 * not `google.protobuf.Empty`.
 * @internal
 */
export function protobufTable(service: DescService): ServiceTable {
  const methods = service.methods.map((method): MethodEntry => {
    const label = `${service.typeName}.${method.name}`;
    if (method.methodKind !== "unary") {
      throw new BimuxError("invalid_argument", `${label} is a ${method.methodKind.replace("_", " ")} method: bimux carries unary calls only`);
    }
    if (!hasOption(method, routeOption)) {
      throw new BimuxError("invalid_argument", `${label} has no route: give it \`option (bimux.v1.route) = N;\` (import "bimux/v1/options.proto")`);
    }
    const oneway = getOption(method, onewayOption);
    if (oneway && method.output.typeName !== "google.protobuf.Empty") {
      throw new BimuxError("invalid_argument", `${label} is one-way, so it returns google.protobuf.Empty, not ${method.output.typeName}`);
    }
    return entry(method, label, getOption(method, routeOption), oneway);
  });
  return checkRoutes(service.typeName, methods);
}

function entry({ input, output, localName }: DescMethod, label: string, route: number, oneway: boolean): MethodEntry {
  // A message is given as is; a plain object (MessageInitShape) is made into one first.
  const encode = (schema: DescMessage, what: string, code: "invalid_argument" | "internal") => (value: unknown) => {
    try {
      const message = create(schema, (value ?? undefined) as MessageInitShape<DescMessage> | undefined);
      // The fast encoder when the message is flat and its values as expected; toBinary otherwise.
      return fastEncoder(schema)?.(message as unknown as Record<string, unknown>) ?? toBinary(schema, message);
    } catch (error) {
      throw codecError(code, `the ${what} cannot be encoded`, label, error);
    }
  };
  const decode = (schema: DescMessage, what: string, code: "invalid_argument" | "internal") => (bytes: Uint8Array) => {
    try {
      return fromBinary(schema, bytes);
    } catch (error) {
      throw codecError(code, `the ${what} cannot be decoded`, label, error);
    }
  };
  return {
    key: localName,
    label,
    route,
    oneway,
    encodeRequest: encode(input, "request", "invalid_argument"),
    decodeRequest: decode(input, "request", "invalid_argument"),
    encodeResponse: encode(output, "reply", "internal"),
    decodeResponse: decode(output, "reply", "internal"),
    // A one-way method's reply type is Empty: an empty one, as the types promise.
    sent: () => create(output),
  };
}

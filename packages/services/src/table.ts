import { BimuxError } from "@bimux/core";

/**
 * One method of a service as the client and the implementation use it, whatever
 * defined it (a contract or a protobuf descriptor): its route, and its four codecs.
 * Every codec throws a `BimuxError` with the code the other side should see.
 * @internal
 */
export interface MethodEntry {
  /** The method's name in the code: `getTitle`. */
  readonly key: string;
  /** The service and method, for messages: `demo.v1.Tab.getTitle`. */
  readonly label: string;
  readonly route: number;
  readonly oneway: boolean;
  encodeRequest(value: unknown): Uint8Array;
  decodeRequest(bytes: Uint8Array): unknown;
  encodeResponse(value: unknown): Uint8Array;
  decodeResponse(bytes: Uint8Array): unknown;
  /** What a client's one-way call resolves to once the message is written. */
  sent(): unknown;
}

/** A service's methods, checked: every route an int32, no two methods on one. @internal */
export interface ServiceTable {
  readonly name: string;
  readonly methods: readonly MethodEntry[];
}

/** Throws `invalid_argument` unless every method has an int32 route of its own. @internal */
export function checkRoutes(name: string, methods: readonly MethodEntry[]): ServiceTable {
  if (methods.length === 0) throw new BimuxError("invalid_argument", `service ${name} has no methods`);
  const taken = new Map<number, string>();
  for (const method of methods) {
    const { route, label } = method;
    if (!(typeof route === "number" && Number.isInteger(route) && route >= -0x80000000 && route <= 0x7fffffff)) {
      throw new BimuxError("invalid_argument", `${label} has no route: an int32 is needed, got ${String(route)}`);
    }
    const other = taken.get(route);
    if (other !== undefined) throw new BimuxError("invalid_argument", `${label} and ${other} are both on route ${route}`);
    taken.set(route, label);
  }
  return { name, methods };
}

/**
 * What a codec threw, as the `BimuxError` with `code` the other side should see: naming the
 * method and what failed, with the codec's error as its cause (a BimuxError stays as it is).
 * Each codec wraps its own call in try/catch and calls this only on failure: no closure per call.
 * @internal
 */
export function codecError(code: "invalid_argument" | "internal", what: string, label: string, error: unknown): BimuxError {
  if (error instanceof BimuxError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new BimuxError(code, `${label}: ${what}: ${reason}`, { cause: error });
}

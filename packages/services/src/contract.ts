import { BimuxError } from "@bimux/core";
import { jsonCodec, type Codec } from "./codec.js";
import { checkRoutes, codecError, type MethodEntry, type ServiceTable } from "./table.js";

/**
 * The methods of a contract, as a TypeScript interface: each takes one request and
 * returns its reply (or `void`, or a promise of either).
 * `{ getTitle(req: { tabId: number }): { title: string }; notify(n: { text: string }): void }`
 */
export type ContractMethods<T> = { [K in keyof T]: (request: never) => unknown };

/** How one method of a contract travels: its route, and for a method returning void, whether it is one-way. */
export type MethodSpec<F> = F extends (...args: never) => infer R
  ? [Awaited<R>] extends [void]
    ? {
        /** The int32 route the method's messages travel on. */
        readonly route: number;
        /** A one-way message (the bimux `send`): no reply, no error, no deadline. */
        readonly oneway?: boolean;
      }
    : { readonly route: number; readonly oneway?: false }
  : never;

/** The routes of every method of `T`: `{ getTitle: { route: 1 }, notify: { route: 10, oneway: true } }`. */
export type ContractSpec<T> = { readonly [K in keyof T]-?: MethodSpec<T[K]> };

/** Options of {@link defineService}. */
export interface ContractOptions {
  /** The service's name in error messages. Default `"service"`. */
  readonly name?: string;
  /** How requests and replies become bytes. Default {@link jsonCodec}. */
  readonly codec?: Codec;
}

/** What every {@link Contract} is at run time, whatever its methods. */
export interface AnyContract {
  /** Marks a contract (protobuf descriptors have `kind: "service"`). */
  readonly kind: "bimux.contract";
  /** The service's name, for messages. */
  readonly name: string;
  /** The routes, as given. */
  readonly spec: object;
  /** The codec of requests and replies. */
  readonly codec: Codec;
}

/**
 * A service declared in TypeScript, made by {@link defineService}: routes and codec at
 * run time, the method types `T` at compile time only.
 */
export interface Contract<T extends ContractMethods<T>> extends AnyContract {
  /** The routes, as given. */
  readonly spec: ContractSpec<T>;
  /** Never present: carries `T` for the types of clients and implementations. */
  readonly "~methods"?: T;
}

/**
 * Declares a service in TypeScript, without a .proto or code generation: the methods'
 * types as `T`, their routes as the argument. Use it with {@link createClient} and
 * {@link implement} as a generated protobuf service. Checks the routes now: a missing
 * route, or two methods on one, throws a `BimuxError` with code `invalid_argument`.
 *
 * ```ts
 * const Tab = defineService<{ getTitle(req: { tabId: number }): { title: string }; notify(n: { text: string }): void }>(
 *   { getTitle: { route: 1 }, notify: { route: 10, oneway: true } });
 * ```
 */
export function defineService<T extends ContractMethods<T>>(spec: ContractSpec<T>, options: ContractOptions = {}): Contract<T> {
  const contract: Contract<T> = { kind: "bimux.contract", name: options.name ?? "service", spec, codec: options.codec ?? jsonCodec };
  // Checked at once, so that a mistake shows where the service is declared.
  contractTable(contract);
  return contract;
}

/** The checked methods of a contract. @internal */
export function contractTable(contract: AnyContract): ServiceTable {
  const { name, spec, codec } = contract;
  if (spec === null || typeof spec !== "object") throw new BimuxError("invalid_argument", `service ${name}: no routes given`);
  const methods = Object.keys(spec).map((key): MethodEntry => {
    const label = `${name}.${key}`;
    const method = (spec as Record<string, { route?: unknown; oneway?: unknown } | undefined>)[key];
    const encode = (what: string, code: "invalid_argument" | "internal") => (value: unknown) => {
      try {
        return codec.encode(value);
      } catch (error) {
        throw codecError(code, `the ${what} cannot be encoded`, label, error);
      }
    };
    const decode = (what: string, code: "invalid_argument" | "internal") => (bytes: Uint8Array) => {
      try {
        return codec.decode(bytes);
      } catch (error) {
        throw codecError(code, `the ${what} cannot be decoded`, label, error);
      }
    };
    return {
      key,
      label,
      route: method?.route as number,
      oneway: method?.oneway === true,
      encodeRequest: encode("request", "invalid_argument"),
      decodeRequest: decode("request", "invalid_argument"),
      encodeResponse: encode("reply", "internal"),
      decodeResponse: decode("reply", "internal"),
      sent: () => undefined,
    };
  });
  return checkRoutes(name, methods);
}

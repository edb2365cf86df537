import { BimuxError, type CallContext, type RpcOptions } from "@bimux/core";
import type { DescMessage, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { contractTable, type AnyContract, type Contract } from "./contract.js";
import type { Caller } from "./peer.js";
import type { IsEmpty } from "./protobuf.js";
import type { ServiceTable } from "./table.js";

/**
 * A service that {@link createClient} and {@link implement} take: a contract from
 * {@link defineService}, or a protobuf service as protoc-gen-es generates it
 * (`export const Tab: GenService<…>`), with its routes in `(bimux.v1.route)` options.
 */
export type Service = AnyContract | DescService;

/** The four types of one method: what a client sends and receives, what a handler receives and returns. */
export interface Signature<Send, Receive, Serve, Answer> {
  /** What a client passes. */
  readonly send: Send;
  /** What a client's promise resolves to. */
  readonly receive: Receive;
  /** What the implementation receives. */
  readonly serve: Serve;
  /** What the implementation returns (or resolves to). */
  readonly answer: Answer;
}

type ContractSignatures<T> = {
  [K in keyof T]: T[K] extends (request: infer Q) => infer R ? Signature<Q, Awaited<R>, Q, Awaited<R>> : never;
};

// A client passes a message or a plain object of its fields, and receives a message;
// a handler likewise. A reply of google.protobuf.Empty may be left out.
type ProtobufSignatures<Ms> = {
  [K in keyof Ms]: Ms[K] extends { input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? Signature<MessageInitShape<I>, MessageShape<O>, MessageShape<I>, MessageInitShape<O> | (IsEmpty<O> extends true ? void : never)>
    : never;
};

/** The method types of a {@link Service}, by method name. */
export type Signatures<S> = S extends Contract<infer T>
  ? ContractSignatures<T>
  : S extends { readonly kind: "service"; readonly method: infer Ms }
    ? ProtobufSignatures<Ms>
    : never;

/**
 * A typed client of service `S`: one method per method of the service. A call takes
 * the request and the raw call's options (`timeout`, `signal`) and resolves to the reply;
 * a one-way method (which, as the raw `send`, takes no options) resolves once the message
 * is written (to `undefined`, or an empty `google.protobuf.Empty`). Failures reject with a `BimuxError`, with the code the
 * remote handler threw.
 */
export type Client<S extends Service> = {
  readonly [K in keyof Signatures<S>]: Signatures<S>[K] extends Signature<infer Send, infer Receive, unknown, unknown>
    ? (request: Send, options?: RpcOptions) => Promise<Receive>
    : never;
};

/**
 * What {@link implement} takes for service `S`: one function per method, given the
 * decoded request, the call's context (core's `CallContext`: `signal`, `timeout`, `route`)
 * and the peer that called (a {@link Caller}, to call it back). A throw or rejection
 * reaches the caller as an error reply: a `BimuxError`'s code as it is, anything else
 * as `remote`. One-way methods get a context whose signal never aborts (nobody waits).
 */
export type Implementation<S extends Service> = {
  readonly [K in keyof Signatures<S>]: Signatures<S>[K] extends Signature<unknown, unknown, infer Serve, infer Answer>
    ? (request: Serve, context: CallContext, peer: Caller) => Answer | Promise<Answer>
    : never;
};

const tables = new WeakMap<object, ServiceTable>();

/**
 * The checked methods of `service`, made once per service. Throws `invalid_argument`
 * for what is not a service or not a valid one. `protobuf` reads a protobuf service:
 * given by the main entry, left out by the contract-only one, which keeps the protobuf
 * runtime out of a page that has no protobuf services.
 * @internal
 */
export function tableOf(service: Service, protobuf?: (service: DescService) => ServiceTable): ServiceTable {
  let table = tables.get(service);
  if (!table) {
    const kind = (service as { kind?: unknown } | null)?.kind;
    if (kind === "bimux.contract") table = contractTable(service as AnyContract);
    else if (kind === "service" && protobuf) table = protobuf(service as DescService);
    else if (kind === "service") {
      throw new BimuxError("invalid_argument", "a protobuf service needs the full @bimux/services, not @bimux/services/contract");
    } else throw new BimuxError("invalid_argument", "not a service: pass one from defineService() or a protoc-gen-es GenService");
    tables.set(service, table);
  }
  return table;
}

import { BimuxError, type CallContext } from "@bimux/core";
import type { Caller, Host, RawOnewayHandler, RawRpcHandler } from "./peer.js";
import type { MethodEntry, ServiceTable } from "./table.js";

/**
 * Raw per-route handlers serving one or more services, to spread into the options of
 * `serve`, `dial`, `dialReconnecting` or `new Muxer`: every connection gets them.
 * Made by {@link serviceHandlers}, combined by {@link combineHandlers}.
 */
export interface ServiceHandlers {
  /** Request handlers by route (the `handlers` option). */
  readonly handlers: Readonly<Record<number, RawRpcHandler>>;
  /** One-way handlers by route (the `onewayHandlers` option). */
  readonly onewayHandlers: Readonly<Record<number, RawOnewayHandler>>;
}

/** One route's handler, bound to an implementation. */
interface Bound {
  readonly method: MethodEntry;
  readonly rpc?: RawRpcHandler;
  readonly oneway?: RawOnewayHandler;
}

// Which routes the services implemented through this package hold, per muxer: core's
// `handle` replaces a handler silently, and two services on one route must not.
const claims = new WeakMap<object, Map<number, string>>();

/** What implement does, for a checked service. @internal */
export function implementTable(host: Host, table: ServiceTable, implementation: object): () => void {
  const bound = bind(table, implementation);
  let held = claims.get(host);
  if (!held) claims.set(host, (held = new Map()));
  claim(held, bound);
  const removers = bound.map(({ method, rpc, oneway }) =>
    rpc ? host.handle(method.route, rpc) : host.handleOneway(method.route, oneway!),
  );
  return () => {
    for (const remove of removers.splice(0)) remove();
    for (const { method } of bound) if (held.get(method.route) === method.label) held.delete(method.route);
  };
}

/** What serviceHandlers does, for a checked service. @internal */
export function handlersOf(table: ServiceTable, implementation: object): ServiceHandlers {
  const bound = bind(table, implementation);
  const handlers: Record<number, RawRpcHandler> = {};
  const onewayHandlers: Record<number, RawOnewayHandler> = {};
  for (const { method, rpc, oneway } of bound) {
    if (rpc) handlers[method.route] = rpc;
    else onewayHandlers[method.route] = oneway!;
  }
  return labelled({ handlers, onewayHandlers }, bound);
}

/**
 * Several services' handlers as one set, for one `serve` or `dial`. Two on one route
 * throw `already_exists`, now.
 */
export function combineHandlers(...sets: ServiceHandlers[]): ServiceHandlers {
  const held = new Map<number, string>();
  const handlers: Record<number, RawRpcHandler> = {};
  const onewayHandlers: Record<number, RawOnewayHandler> = {};
  for (const set of sets) {
    claim(held, labels.get(set) ?? unlabelled(set));
    Object.assign(handlers, set.handlers);
    Object.assign(onewayHandlers, set.onewayHandlers);
  }
  return labelled({ handlers, onewayHandlers }, [...held].map(([route, label]) => ({ method: { route, label } })));
}

// The labels of each set's routes, for combineHandlers' messages.
type Label = { readonly method: Pick<MethodEntry, "route" | "label"> };
const labels = new WeakMap<ServiceHandlers, readonly Label[]>();

function labelled(set: ServiceHandlers, routes: readonly Label[]): ServiceHandlers {
  labels.set(set, routes);
  return set;
}

/** A set of handlers made by hand: its routes, named by number. */
function unlabelled(set: ServiceHandlers): Label[] {
  return [...Object.keys(set.handlers), ...Object.keys(set.onewayHandlers)].map((key) => ({
    method: { route: Number(key), label: `the handler on route ${key}` },
  }));
}

/** Takes every route of `bound` in `held`, or none: `already_exists` when one is taken. */
function claim(held: Map<number, string>, bound: readonly Label[]): void {
  for (const { method } of bound) {
    const other = held.get(method.route);
    if (other !== undefined) {
      throw new BimuxError("already_exists", `${method.label} is on route ${method.route}, which ${other} already serves`);
    }
  }
  for (const { method } of bound) held.set(method.route, method.label);
}

/** One handler per method of `service`, each calling its function of `implementation`. */
function bind(table: ServiceTable, implementation: object): Bound[] {
  const functions = implementation as Record<string, unknown>;
  return table.methods.map((method): Bound => {
    const fn = functions?.[method.key];
    if (typeof fn !== "function") throw new BimuxError("invalid_argument", `${method.label} is not implemented: no function ${method.key}`);
    // Called as a method: an implementation may be a class instance using `this`.
    const call = (request: unknown, context: CallContext, peer: Caller): unknown => fn.call(implementation, request, context, peer);
    if (method.oneway) {
      const context = onewayContext(method.route);
      // A request that fails to decode throws here: core reports it to onError, as any one-way failure.
      return { method, oneway: (_route, data, peer) => call(method.decodeRequest(data), context, peer) as void | Promise<void> };
    }
    const { decodeRequest, encodeResponse } = method;
    return {
      method,
      rpc: (_route, data, peer, context) => {
        // A request that fails to decode answers invalid_argument (decodeRequest throws it).
        const answer = call(decodeRequest(data), context, peer);
        // Answered at once when the function is synchronous: core keeps no bookkeeping for it.
        return isPromise(answer) ? answer.then(encodeResponse) : encodeResponse(answer);
      },
    };
  });
}

/** The context one-way methods get: nobody waits for them, so no deadline and no abort. */
function onewayContext(route: number): CallContext {
  return { number: 0, route, timeout: undefined, signal: new AbortController().signal };
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === "function";
}

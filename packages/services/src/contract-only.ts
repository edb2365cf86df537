/**
 * @bimux/services/contract: the contracts of {@link defineService} only, for a page that
 * has no protobuf services: the same functions as `@bimux/services`, without the protobuf
 * runtime in the bundle. A protobuf service given to them is refused with `invalid_argument`.
 * @packageDocumentation
 */
import { clientOf } from "./client.js";
import { handlersOf, implementTable, type ServiceHandlers } from "./implement.js";
import type { Caller, Host } from "./peer.js";
import { tableOf, type Client, type Implementation, type Service } from "./service.js";

export * from "./common.js";

/** As `createClient` of `@bimux/services`, for contracts only. */
export function createClient<S extends Service>(service: S, peer: Caller): Client<S> {
  return clientOf(tableOf(service), peer) as Client<S>;
}

/** As `implement` of `@bimux/services`, for contracts only. */
export function implement<S extends Service>(host: Host, service: S, implementation: Implementation<S>): () => void {
  return implementTable(host, tableOf(service), implementation);
}

/** As `serviceHandlers` of `@bimux/services`, for contracts only. */
export function serviceHandlers<S extends Service>(service: S, implementation: Implementation<S>): ServiceHandlers {
  return handlersOf(tableOf(service), implementation);
}

import type { RpcOptions } from "@bimux/core";
import type { Caller } from "./peer.js";
import type { ServiceTable } from "./table.js";

/** The client of a checked service, calling through `peer`: what createClient returns. @internal */
export function clientOf(table: ServiceTable, peer: Caller): Record<string, (request: unknown, options?: RpcOptions) => Promise<unknown>> {
  const client: Record<string, (request: unknown, options?: RpcOptions) => Promise<unknown>> = {};
  for (const method of table.methods) {
    const { route, encodeRequest, decodeResponse } = method;
    client[method.key] = method.oneway
      ? (request) => {
          let data: Uint8Array;
          try {
            data = encodeRequest(request);
          } catch (error) {
            return Promise.reject(error);
          }
          return peer.send(route, data).then(method.sent);
        }
      : (request, options) => {
          let data: Uint8Array;
          try {
            data = encodeRequest(request);
          } catch (error) {
            // A bad request rejects as any failed call does, never throws.
            return Promise.reject(error);
          }
          return peer.rpc(route, data, options).then(decodeResponse);
        };
  }
  return client;
}

import type { RpcOptions } from "@bimux/core";
import type { Caller } from "./peer.js";
import { tableOf, type Client, type Service } from "./service.js";

/**
 * A typed client of `service` that calls through `peer`: a `Muxer`, a `ReconnectingMuxer`,
 * a server's `peers.get(id)`, or anything with `rpc` and `send`. The service is checked
 * now: a method without a route, or two on one, throws `invalid_argument` here, not at
 * the first call.
 *
 * ```ts
 * const tab = createClient(Tab, muxer);
 * const { title } = await tab.getTitle({ tabId: 1 }, { timeout: 1000 });
 * ```
 */
export function createClient<S extends Service>(service: S, peer: Caller): Client<S> {
  const client: Record<string, (request: unknown, options?: RpcOptions) => Promise<unknown>> = {};
  for (const method of tableOf(service).methods) {
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
  return client as Client<S>;
}

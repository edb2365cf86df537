import { BimuxError, DEFAULTS, type Muxer, type RpcOptions } from "@bimux/core";
import type { NatsConnection } from "@nats-io/transport-node";
import { Header, errorOf, headersOf, messageSize, type CallKind } from "./protocol.js";
import type { Requests } from "./requests.js";
import type { Subjects } from "./subjects.js";

/** NATS's default `max_payload`, for the moments before the client has heard the server's. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** Longest timer Node keeps (about 24.8 days): a longer timeout is taken as none. */
const MAX_TIMER = 0x7fffffff;

/**
 * Calls to a peer wherever it is connected: straight to its muxer when it is on this
 * node, else over NATS to the node that holds it, which makes the same call and sends
 * back the reply or the error with its code. A call to an id no node holds fails at
 * once with `unavailable`: NATS answers "no responders" since no node subscribes for it.
 */
export class Calls {
  private maxPayload = DEFAULT_MAX_PAYLOAD;

  constructor(
    private readonly nc: NatsConnection,
    private readonly requests: Requests,
    private readonly subjects: Subjects,
    /** The muxer of a peer this node holds, for the direct path. */
    private readonly local: (id: string) => Muxer | undefined,
    /** The nodes holding a peer, as presence knows them: a call is tied to its node, to fail if that node dies. */
    private readonly locate: (id: string) => string[],
    private readonly defaultTimeout: number = DEFAULTS.timeout,
  ) {
    checkTimeout(defaultTimeout);
  }

  /** The largest message NATS takes: the server's `max_payload`, remembered across reconnects. */
  get maxMessage(): number {
    const max = this.nc.info?.max_payload;
    if (max) this.maxPayload = max;
    return this.maxPayload;
  }

  /** Calls peer `id`'s handler for `route`: see {@link Cluster.rpc}. */
  async rpc(id: string, route: number, data: Uint8Array, options: RpcOptions = {}): Promise<Uint8Array> {
    checkCall(route, data);
    const timeout = checkTimeout(options.timeout ?? this.defaultTimeout);
    const { signal } = options;
    const what = `rpc to route ${route} of peer "${id}"`;
    if (signal?.aborted) throw new BimuxError("aborted", `${what} was aborted`, { cause: signal.reason });
    const muxer = this.local(id);
    if (muxer) return muxer.rpc(route, data, { timeout, signal });
    const msg = await this.forward("rpc", id, route, data, timeout, signal, what);
    return msg;
  }

  /**
   * Sends a one-way message to peer `id`: see {@link Cluster.send}. Over NATS it is a request
   * all the same, answered once the holding node has written it, so that a send to nobody fails
   * with `unavailable` and a slow peer holds its senders back, as `Muxer.send` does.
   */
  async send(id: string, route: number, data: Uint8Array): Promise<void> {
    checkCall(route, data);
    const muxer = this.local(id);
    if (muxer) return muxer.send(route, data);
    await this.forward("send", id, route, data, this.defaultTimeout, undefined, `send to route ${route} of peer "${id}"`);
  }

  private async forward(kind: CallKind, id: string, route: number, data: Uint8Array, timeout: number, signal: AbortSignal | undefined, what: string): Promise<Uint8Array> {
    const entries: Record<string, string> = { [Header.kind]: kind, [Header.route]: String(route) };
    // The holding node calls the peer with what is left of the deadline when it gets the request.
    if (timeout !== Infinity) entries[Header.timeout] = String(Math.ceil(timeout));
    const headers = headersOf(entries);
    const size = messageSize(data, headers);
    const max = this.maxMessage;
    if (size > max) throw new BimuxError("too_large", `${what}: ${size} bytes with headers, above the NATS server's max_payload of ${max}`);
    const holders = this.locate(id);
    const msg = await this.requests.request(this.subjects.call(id), data, headers, {
      timeout: timeout > MAX_TIMER ? Infinity : timeout,
      signal,
      what,
      nobody: "no node holds this peer (NATS: no responders)",
      // One known holder: if it dies with the request in hand, the call fails then, not at its deadline.
      node: holders.length === 1 ? holders[0] : undefined,
      // The holding node aborts its call to the peer, whose handler's signal aborts in turn.
      onAbort: (reply) => {
        try {
          this.nc.publish(this.subjects.cancel(id), new Uint8Array(), { headers: headersOf({ [Header.call]: reply }) });
        } catch {
          // The connection is closed: the holding node's own deadline ends the call.
        }
      },
    });
    const error = errorOf(msg.headers, msg.data);
    if (error) throw error;
    return msg.data;
  }
}

/** Refuses what `Muxer.rpc` refuses, before anything is sent: a route that is not an int32, data that is not bytes. */
function checkCall(route: number, data: Uint8Array): void {
  if (!Number.isInteger(route) || route < -0x80000000 || route > 0x7fffffff) throw new BimuxError("invalid_argument", `route must be an int32, got ${route}`);
  if (!(data instanceof Uint8Array)) throw new BimuxError("invalid_argument", "data must be a Uint8Array");
}

/** A timeout in ms, `Infinity` for none; `invalid_argument` unless positive. */
export function checkTimeout(timeout: number, name = "timeout"): number {
  if (!(timeout > 0)) throw new BimuxError("invalid_argument", `${name} must be a positive number of ms, got ${timeout}`);
  return timeout;
}

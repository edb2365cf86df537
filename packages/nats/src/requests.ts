import { BimuxError } from "@bimux/core";
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { NO_RESPONDERS } from "./protocol.js";

/** How one {@link Requests.request} ends early, besides its reply. */
export interface RequestOptions {
  /** Milliseconds to wait; `Infinity` waits for the reply or the abort. */
  timeout: number;
  /** Aborting it rejects with `aborted` at once, after `onAbort` ran with the request's reply subject. */
  signal?: AbortSignal | undefined;
  /** Called when `signal` aborts a request still in flight: the place to tell the other side. */
  onAbort?: ((reply: string) => void) | undefined;
  /** Names the request in errors ("rpc to peer agent-1"). */
  what: string;
  /** What no responders means for this request, in the `unavailable` error. Default "no responders". */
  nobody?: string;
  /** The node expected to answer, if known: {@link Requests.failNode} ends the request if that node goes. */
  node?: string | undefined;
}

interface Pending {
  resolve(msg: Msg): void;
  reject(error: BimuxError): void;
  node: string | undefined;
}

/**
 * Requests over one shared reply subscription (`<inbox>.*`), as the NATS client's own
 * request does, but with what bimux calls need and its request lacks: an `AbortSignal`
 * that frees the call at once (the client's keeps it until its timeout), an infinite
 * timeout, the reply subject known before sending (it names the call for a cancel), and
 * every failure as a {@link BimuxError}: no responders → `unavailable`, no reply in
 * time → `timeout`.
 */
export class Requests {
  private readonly inbox: string;
  private readonly pending = new Map<string, Pending>();
  private readonly sub: Subscription;
  private next = 0;
  private closedWith: BimuxError | undefined;

  constructor(private readonly nc: NatsConnection) {
    this.inbox = createInbox();
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (error, msg) => {
        if (error) return;
        const call = this.pending.get(msg.subject);
        if (!call) return; // timed out, aborted, or a second answer (two holders in a race window)
        this.pending.delete(msg.subject);
        // The server answers a request nobody listens for with an empty 503 status message.
        if (msg.data.length === 0 && msg.headers?.code === NO_RESPONDERS) call.reject(new BimuxError("unavailable", "no responders", { cause: NO_RESPONDERS }));
        else call.resolve(msg);
      },
    });
  }

  /** Calls in flight. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Publishes `data` on `subject` and resolves to the first reply. Rejects with `unavailable`
   * when nobody listens on `subject` (or the connection is closed), `timeout`, or `aborted`.
   */
  request(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, options: RequestOptions): Promise<Msg> {
    const { timeout, signal, onAbort, what, nobody = "no responders", node } = options;
    const reply = `${this.inbox}.${(this.next++).toString(36)}`;
    return new Promise<Msg>((resolve, reject) => {
      // Closed: nothing would read the reply, so the call would only wait for its deadline.
      if (this.closedWith) return reject(new BimuxError("unavailable", `${what}: ${this.closedWith.rawMessage}`));
      let timer: NodeJS.Timeout | undefined;
      const onSignal = (): void => {
        if (!this.pending.delete(reply)) return;
        cleanup();
        try {
          onAbort?.(reply);
        } finally {
          reject(new BimuxError("aborted", `${what} was aborted`, { cause: signal?.reason }));
        }
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onSignal);
      };
      this.pending.set(reply, {
        node,
        resolve: (msg) => {
          cleanup();
          resolve(msg);
        },
        reject: (error) => {
          cleanup();
          reject(new BimuxError(error.code, `${what}: ${error.cause === NO_RESPONDERS ? nobody : error.rawMessage}`, { cause: error.cause }));
        },
      });
      if (timeout !== Infinity) {
        timer = setTimeout(() => {
          if (this.pending.delete(reply)) {
            signal?.removeEventListener("abort", onSignal);
            reject(new BimuxError("timeout", `${what} timed out after ${timeout} ms`));
          }
        }, timeout);
      }
      signal?.addEventListener("abort", onSignal, { once: true });
      try {
        this.nc.publish(subject, data, { reply, headers });
      } catch (error) {
        this.pending.delete(reply);
        cleanup();
        reject(new BimuxError("unavailable", `${what}: ${BimuxError.from(error).rawMessage}`, { cause: error }));
      }
    });
  }

  /**
   * Rejects with `error` the calls in flight that `node` was to answer: a node that died with a
   * request in hand never answers it, and its callers should not wait for their deadlines.
   */
  failNode(node: string, error: BimuxError): void {
    for (const [reply, call] of this.pending) {
      if (call.node !== node) continue;
      this.pending.delete(reply);
      call.reject(error);
    }
  }

  /** Rejects every call in flight with `error`, and stops listening for replies. */
  close(error: BimuxError): void {
    this.closedWith = error;
    this.sub.unsubscribe();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.reject(error);
  }
}

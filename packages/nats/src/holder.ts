import { BimuxError, CloseCode, type Muxer } from "@bimux/core";
import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";
import { Header, errorReply, headersOf, messageSize } from "./protocol.js";
import type { Requests } from "./requests.js";
import { lastToken, type Subjects } from "./subjects.js";

/** A peer of this node that the cluster reaches: its muxer, since when, and its subscription. */
interface Held {
  muxer: Muxer;
  /** When this node took the id (ms since the epoch): the older claim wins a race. */
  since: number;
  sub: Subscription;
}

/** What the {@link Holder} tells the presence table. */
export interface HolderEvents {
  /** A point in what presence has learned, taken before a claim goes out. */
  mark(): number;
  /** This node now holds `id`, since `since`, after a claim sent at `mark` that nobody answered. */
  taken(id: string, since: number, mark: number): void;
  /** This node no longer holds `id`. */
  released(id: string): void;
}

/** The close reason a peer gets when another connection, here or on another node, holds its id. */
export const ID_IN_USE = "id in use";

/**
 * The peers this node holds for the cluster, and the serving of calls to them. For each
 * one it subscribes to the peer's subjects (`<p>.peer.<id>.*`): calls are made on its
 * muxer with the caller's remaining deadline, cancels abort them, claims are answered
 * "held here". Before taking an id it asks the cluster who holds it (a claim): if anyone
 * answers, the newcomer is closed with 1008 "id in use", never a silent takeover.
 */
export class Holder {
  private readonly held = new Map<string, Held>();
  /** Ids being claimed, with the muxer that asked: a second muxer with the same id meanwhile is refused too. */
  private readonly claiming = new Map<string, Muxer>();
  /** Calls being served, by the caller's reply subject (what a cancel names). */
  private readonly serving = new Map<string, AbortController>();
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly requests: Requests,
    private readonly subjects: Subjects,
    private readonly node: string,
    private readonly events: HolderEvents,
    private readonly maxMessage: () => number,
    private readonly claimTimeout: number,
    private readonly report: (error: BimuxError) => void,
  ) {}

  /** The muxer of `id` if this node holds it for the cluster. */
  get(id: string): Muxer | undefined {
    return this.held.get(id)?.muxer;
  }

  /** When this node took `id`, if it holds it. */
  since(id: string): number | undefined {
    return this.held.get(id)?.since;
  }

  /** Ids held, with when they were taken. */
  entries(): Array<[string, number]> {
    return [...this.held].map(([id, held]) => [id, held.since]);
  }

  /** Calls to local peers being served for other nodes. */
  get servingCalls(): number {
    return this.serving.size;
  }

  /** A local muxer took `id`: claim it for the cluster, or close it if the id is held. */
  join(muxer: Muxer, id: string): void {
    if (this.closed) return;
    const holder = this.held.get(id)?.muxer ?? this.claiming.get(id);
    if (holder && holder !== muxer) return refuse(muxer, id);
    if (holder) return;
    this.claiming.set(id, muxer);
    void this.claim(muxer, id);
  }

  /** A local muxer gave up `id` (it closed, or took another id). */
  leave(muxer: Muxer, id: string): void {
    if (this.claiming.get(id) === muxer) this.claiming.delete(id);
    const held = this.held.get(id);
    if (held?.muxer !== muxer) return;
    this.held.delete(id);
    held.sub.unsubscribe();
    this.events.released(id);
  }

  /** Another node holds `id` since `since` while this one does too (a race): the newer claim closes. */
  conflict(id: string, node: string, since: number): void {
    const held = this.held.get(id);
    if (!held) return;
    // Both nodes judge the same pair the same way, so exactly one of them closes its peer.
    const ours = held.since > since || (held.since === since && this.node > node);
    if (ours) refuse(held.muxer, id);
  }

  /** Stops serving: unsubscribes every peer's subjects and aborts the calls being served. */
  close(): void {
    this.closed = true;
    for (const [id, held] of this.held) {
      held.sub.unsubscribe();
      this.events.released(id);
    }
    this.held.clear();
    this.claiming.clear();
    for (const controller of this.serving.values()) controller.abort(new BimuxError("unavailable", "the node left the cluster"));
    this.serving.clear();
  }

  private async claim(muxer: Muxer, id: string): Promise<void> {
    let heldElsewhere = false;
    const mark = this.events.mark();
    try {
      await this.requests.request(this.subjects.claim(id), new Uint8Array(), undefined, { timeout: this.claimTimeout, what: `claim of "${id}"` });
      heldElsewhere = true;
    } catch (error) {
      // `unavailable` (no responders): nobody holds it. A timeout, NATS being down say, cannot tell:
      // the node takes the id, and should another hold it too, their announcements settle who keeps it.
      if ((error as BimuxError).code !== "unavailable" && (error as BimuxError).code !== "timeout") this.report(BimuxError.from(error));
    }
    if (this.claiming.get(id) !== muxer) return; // it left, or the cluster closed, meanwhile
    this.claiming.delete(id);
    if (muxer.closed || muxer.id !== id) return;
    if (heldElsewhere) return refuse(muxer, id);
    const since = Date.now();
    const sub = this.nc.subscribe(this.subjects.peerAll(id), { callback: (error, msg) => void (error ?? this.serve(id, msg)) });
    this.held.set(id, { muxer, since, sub });
    this.events.taken(id, since, mark);
  }

  private serve(id: string, msg: Msg): void {
    const held = this.held.get(id);
    const kind = lastToken(msg.subject);
    if (kind === "claim") {
      respond(msg, new Uint8Array(), headersOf({ [Header.node]: this.node }));
    } else if (kind === "cancel") {
      const call = msg.headers?.get(Header.call);
      if (call) this.serving.get(call)?.abort(new BimuxError("aborted", "the caller aborted the call"));
    } else if (kind === "call" && held && msg.reply) {
      void this.call(held.muxer, msg, msg.reply);
    }
  }

  /** Makes the call a request asks for on the peer's muxer, and answers with its reply or its error. */
  private async call(muxer: Muxer, msg: Msg, reply: string): Promise<void> {
    const route = Number(msg.headers?.get(Header.route));
    const timeoutHeader = msg.headers?.get(Header.timeout);
    const controller = new AbortController();
    this.serving.set(reply, controller);
    try {
      let data: Uint8Array;
      if (msg.headers?.get(Header.kind) === "send") {
        await muxer.send(route, msg.data);
        data = new Uint8Array();
      } else {
        data = await muxer.rpc(route, msg.data, { timeout: timeoutHeader ? Number(timeoutHeader) : Infinity, signal: controller.signal });
      }
      // The caller gave up: nobody reads an answer.
      if (controller.signal.aborted) return;
      const max = this.maxMessage();
      if (messageSize(data, undefined) > max) {
        throw new BimuxError("too_large", `the reply of ${data.length} bytes is above the NATS server's max_payload of ${max}`);
      }
      respond(msg, data);
    } catch (error) {
      if (controller.signal.aborted) return;
      const { headers, data } = errorReply(BimuxError.from(error));
      respond(msg, data, headers);
    } finally {
      this.serving.delete(reply);
    }
  }
}

/** Answers `msg`; a connection closed meanwhile loses the answer, as the caller's deadline will tell it. */
function respond(msg: Msg, data: Uint8Array, headers?: MsgHdrs): void {
  try {
    msg.respond(data, headers ? { headers } : undefined);
  } catch {
    // Closed or draining: nothing can be sent, and the caller times out.
  }
}

/** Closes a newcomer whose id is held, after the registry's listeners are done with it. */
function refuse(muxer: Muxer, id: string): void {
  queueMicrotask(() => {
    if (muxer.id === id) muxer.close(CloseCode.policyViolation, ID_IN_USE);
  });
}

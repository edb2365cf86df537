import { BimuxError, closeCodeFor } from "../errors.js";
import type { Duplex } from "../transport/duplex.js";
import { EMPTY, encodeErrorReply, writeFrame, type FlagValue, type FrameAllocator, type WireNumber } from "../wire/codec.js";
import { Wire } from "../wire/flags.js";
import { Backpressure } from "./backpressure.js";

/** What {@link Outbound} tells its muxer. */
export interface OutboundOwner {
  /** True once the connection has ended: replies and control frames go nowhere then. */
  readonly closed: boolean;
  /** The peer provoked more than the connection may buffer: close it with `code`. */
  fail(code: number, error: BimuxError): void;
  /** Something failed that nobody waits on. */
  report(error: BimuxError): void;
}

/**
 * Everything a muxer writes: frames encoded (into memory the transport may pool),
 * checked against the size limit, and handed to the transport through its
 * {@link Backpressure}. Requests and one-way messages throw what stops them, for
 * the caller to reject with; replies and control frames, which answer the peer,
 * never throw: their failures close the connection or are reported.
 */
export class Outbound {
  readonly writes: Backpressure;
  #duplex: Duplex;
  /** Largest frame the peer accepts. */
  #maxSize: number;
  /** Whether the peer negotiated the extensions: control frames go only to such a peer. */
  readonly extensions: boolean;
  #owner: OutboundOwner;

  constructor(duplex: Duplex, maxSize: number, extensions: boolean, owner: OutboundOwner, writes: Backpressure) {
    this.#duplex = duplex;
    this.#maxSize = maxSize;
    this.extensions = extensions;
    this.#owner = owner;
    this.writes = writes;
  }

  /** Writes a reply (response or error reply) to call `number` on `route`, unless the connection is gone. */
  reply(number: WireNumber, flag: FlagValue, route: number, data: Uint8Array): void {
    this.#answer(number, flag, route, data);
  }

  /**
   * Tells the callee of call `number` to stop: only a peer that negotiated it knows the flag
   * (Go would drop it). Best effort: past the budget it is not queued, and the callee stops
   * at the deadline the request carried instead.
   */
  abandoned(number: number): void {
    if (this.extensions && this.writes.cost <= this.writes.limit) this.#control(number, Wire.CANCEL);
  }

  /** Answers a ping. */
  pong(number: WireNumber): void {
    this.#control(number, Wire.PONG);
  }

  /**
   * Asks the peer for a sign of life: a transport ping where there is one (a browser's
   * network stack answers it even while its page is busy), else a ping message to a
   * peer that negotiated them. False when neither is possible.
   */
  probe(): boolean {
    const duplex = this.#duplex;
    if (duplex.ping) duplex.ping();
    else if (this.extensions) this.#control(0, Wire.PING);
    return !!(duplex.ping || this.extensions);
  }

  /** Encodes an outbound frame (see `Frame`), refusing what the peer would refuse as too large. */
  encode(number: WireNumber, flag: FlagValue, route: number, data: Uint8Array, timeout = 0): Uint8Array {
    const duplex = this.#duplex;
    return this.checkSize(writeFrame(number, flag, route, data, timeout, (duplex.allocate && duplex) as FrameAllocator | undefined));
  }

  /** `bytes`, unless larger than the peer accepts: then `too_large`, as the peer would close. */
  checkSize(bytes: Uint8Array): Uint8Array {
    if (bytes.length > this.#maxSize) throw new BimuxError("too_large", `${bytes.length} bytes exceed the limit of ${this.#maxSize}`);
    return bytes;
  }

  #control(number: WireNumber, flag: Wire): void {
    this.#answer(number, flag, 0, EMPTY);
  }

  /** Writes what answers the peer (a reply or a control frame); `fallback` marks the short error reply for one too large. */
  #answer(number: WireNumber, flag: FlagValue, route: number, data: Uint8Array, fallback?: boolean): void {
    const owner = this.#owner;
    if (owner.closed) return;
    try {
      this.writes.write(this.encode(number, flag, route, data));
    } catch (error) {
      const failure = BimuxError.from(error, "closed");
      const { code, rawMessage } = failure;
      // A peer that keeps asking (or pinging) but does not read its answers is the slow reader
      // backpressure guards against: close rather than buffer without bound.
      if (code === "overloaded") {
        owner.report(failure);
        owner.fail(closeCodeFor(code), failure);
      }
      // An answer too large to send still owes the caller an answer: a short error reply.
      else if (code === "too_large" && !fallback && flag < Wire.CANCEL) {
        this.#answer(number, Wire.ERROR, route, encodeErrorReply({ code, message: `reply: ${rawMessage}` }), true);
      }
      // A transport that refuses to send is closing: the close tells everyone waiting here,
      // and the caller on the other side learns it from its own.
      else if (code !== "closed") owner.report(failure);
    }
  }
}

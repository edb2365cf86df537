import { BimuxError, closeCodeFor, isErrorCode } from "../errors.js";
import type { DuplexSink } from "../transport/duplex.js";
import { decodeErrorReply, decodeFrame, type Frame } from "../wire/codec.js";
import { Close } from "../wire/close-codes.js";
import { Wire } from "../wire/flags.js";
import type { CallTable } from "./call-table.js";
import type { Dispatcher } from "./dispatcher.js";
import type { Keepalive } from "./keepalive.js";
import type { Outbound } from "./outbound.js";
import { RawReads } from "./raw-reads.js";

/** What {@link Inbound} tells its muxer. */
export interface InboundOwner {
  /** True once the connection has ended: nothing more is read. */
  readonly closed: boolean;
  /** The peer broke the protocol: close with `code`. */
  fail(code: number, error: BimuxError): void;
  /** The transport reports the end of the connection. */
  ended(code: number, reason: string, error?: unknown): void;
}

/**
 * The path of every inbound message, in order: the checks (text, size), the raw
 * reads that may take it whole, decoding, then by flag to the call table (replies),
 * the dispatcher (requests, one-way messages, cancels) or the keepalive (pings and
 * pongs). It is the transport's {@link DuplexSink}.
 */
export class Inbound implements DuplexSink {
  #owner: InboundOwner;
  #calls: CallTable;
  #dispatcher: Dispatcher;
  #outbound: Outbound;
  #keepalive: Keepalive | undefined;
  /** The raw reads (Go `ReadPacket`), which see every message first. */
  readonly raw = new RawReads(this);
  /** Largest message accepted. */
  #maxSize: number;

  constructor(owner: InboundOwner, calls: CallTable, dispatcher: Dispatcher, outbound: Outbound, keepalive: Keepalive | undefined, maxSize: number) {
    this.#owner = owner;
    this.#calls = calls;
    this.#dispatcher = dispatcher;
    this.#outbound = outbound;
    this.#keepalive = keepalive;
    this.#maxSize = maxSize;
  }

  message(data: Uint8Array | string): void {
    const owner = this.#owner;
    if (owner.closed) return;
    this.#keepalive?.heard();
    if (typeof data === "string" || data.length > this.#maxSize) {
      // What is held arrived before this violation closes the connection: it goes on first.
      this.raw.releaseAll();
      // fail does nothing if one of them closed the connection.
      return typeof data === "string"
        ? owner.fail(Close.UNSUPPORTED_DATA, new BimuxError("protocol", "text message; bimux speaks binary"))
        : owner.fail(closeCodeFor("too_large"), new BimuxError("too_large", `received ${data.length} bytes; the limit is ${this.#maxSize}`));
    }
    if (!this.raw.take(data)) this.dispatch(data);
  }

  closed(code: number, reason: string, error?: unknown): void {
    // Messages held for a raw read arrived before the close: they go on first.
    this.raw.releaseAll();
    this.#owner.ended(code, reason, error);
  }

  alive(): void {
    this.#keepalive?.heard();
  }

  /** Decodes a message and routes it by its flag: what the raw reads did not take. */
  dispatch(data: Uint8Array): void {
    const owner = this.#owner;
    if (owner.closed) return;
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (error) {
      return owner.fail(closeCodeFor("protocol"), BimuxError.from(error, "protocol"));
    }
    const { number, flag } = frame;
    // Field 5 and flags 4-6 mean something only on a connection that negotiated them: from a
    // plain peer they are someone else's, which a Go peer would skip and drop, and so do we.
    if (!this.#outbound.extensions) {
      if (flag >= Wire.CANCEL && flag <= Wire.PONG) return;
      frame.timeout = undefined;
    }
    // A reply whose number is not ours matches nothing and is dropped, as in Go: a bigint one
    // too, which no number key of the call table equals.
    if (flag === Wire.RESPONSE) this.#calls.resolve(number as number, frame.data);
    else if (flag === Wire.ERROR) this.#calls.fail(number as number, remoteError(frame));
    else if (flag === Wire.REQUEST) this.#dispatcher.serve(frame);
    else if (flag === Wire.ONEWAY) this.#dispatcher.deliver(frame);
    else if (flag === Wire.CANCEL) this.#dispatcher.drop(number);
    else if (flag === Wire.PING) this.#outbound.pong(number);
    // A pong's arrival was the sign of life; anything else is a flag nobody negotiated.
    else if (flag !== Wire.PONG) owner.fail(closeCodeFor("protocol"), new BimuxError("protocol", `unknown flag ${flag}`));
  }
}

/** The error an error reply carries: its code if we know it (else `remote`), marked as the peer's. */
function remoteError(frame: Frame): BimuxError {
  let reply = { code: "remote", message: "unreadable error reply" };
  try {
    reply = decodeErrorReply(frame.data);
  } catch {
    // Keep the defaults: a reply we cannot read still means the call failed.
  }
  const { code, message } = reply;
  return new BimuxError(isErrorCode(code) ? code : "remote", message || `call to route ${frame.route} failed`, { remote: true });
}

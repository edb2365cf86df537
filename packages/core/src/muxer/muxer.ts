import { FRAME_OVERHEAD, HIGH_WATER_MARK, KEEPALIVE_INTERVAL, MAX_MESSAGE_SIZE, MAX_PENDING_CALLS, MAX_QUEUED_BYTES, TIMEOUT, checkTimeout } from "../defaults.js";
import { BimuxError } from "../errors.js";
import { negotiated } from "../negotiation.js";
import type { Duplex } from "../transport/duplex.js";
import { checkCall, utf8Encoder } from "../wire/codec.js";
import { Close } from "../wire/close-codes.js";
import { Wire } from "../wire/flags.js";
import { CallTable } from "./call-table.js";
import { Dispatcher, type OnewayHandler, type RpcHandler } from "./dispatcher.js";
import { Inbound, type InboundOwner } from "./inbound.js";
import { Backpressure } from "./backpressure.js";
import { Keepalive, type KeepaliveOwner } from "./keepalive.js";
import { Outbound, type OutboundOwner } from "./outbound.js";

/** Called once when a connection ends, whichever side ended it. */
export type CloseHook = (muxer: Muxer) => void;

/** How a connection ended; what {@link Muxer.wait} resolves to. */
export interface CloseInfo {
  /** The WebSocket close code (1000 normal, 1002 protocol error, 1006 dropped…). */
  code: number;
  /** The close reason, possibly empty. */
  reason: string;
  /** Whether this side or the peer (or the network) ended the connection. */
  initiator: "local" | "remote";
  /** Set when the connection ended because of an error, such as a protocol violation. */
  error?: BimuxError;
}

/** Hooks and settings of a {@link Muxer}: the Go original's three hooks and more. */
export interface MuxerOptions {
  /** Serves requests on routes without their own handler (the Go `rpcServeHook`). */
  onRpc?: RpcHandler;
  /** Handles one-way messages on routes without their own handler (the Go `onewayServeHook`). */
  onOneway?: OnewayHandler;
  /** Called once when the connection ends (the Go `closeHook`). Unlike Go, also on a local close. */
  onClose?: CloseHook;
  /** Per-route request handlers, in place before the first message can arrive. */
  handlers?: Readonly<Record<number, RpcHandler>>;
  /** Per-route one-way handlers, in place before the first message can arrive. */
  onewayHandlers?: Readonly<Record<number, OnewayHandler>>;
  /** Called when something fails that no caller is waiting on (a one-way handler threw). Default: `console.error`. */
  onError?: (error: BimuxError, muxer: Muxer) => void;
  /** Called after {@link Muxer.id} changes, with the previous id. */
  onIdChange?: (muxer: Muxer, previous: string) => void;
  /** The initial id (the Go `SetID`). Default: empty. */
  id?: string;
  /** Timeout of calls that name none, in milliseconds. Default 30 000; `Infinity` for none. */
  timeout?: number;
  /**
   * Dead-peer detection: after `interval` ms without a word from the peer, probe
   * it (a WebSocket ping where the transport has one, which a browser answers even
   * while its page is busy, else a ping message if the peer negotiated them); no
   * answer within another interval closes the connection, rejecting its calls.
   * Default `{ interval: 5000 }`; `false` turns it off.
   */
  keepalive?: false | { interval?: number };
  /** Largest message sent or accepted, in bytes. A larger inbound one closes with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /**
   * Inbound handlers running at once, requests and one-way messages together. Requests
   * past it get an `overloaded` error reply; one-way messages past it wait, and the
   * connection stops reading until handlers finish. Default 1000.
   */
  maxConcurrent?: number;
  /** Outbound calls that may wait for a reply at once; more reject with `overloaded`. Default 10 000. */
  maxPendingCalls?: number;
  /**
   * Bytes the transport may buffer before `send` and `writePacket` resolve only
   * once it drains below this again (backpressure: await them). Default 1 MiB.
   */
  highWaterMark?: number;
  /**
   * Bytes the transport may hold beyond `highWaterMark`, each queued frame charged its
   * bytes plus a fixed overhead; past that, writes fail with `overloaded`, and a peer whose
   * answers (or pongs) pile up there is closed with 1008. Default 16 MiB.
   */
  maxQueuedBytes?: number;
  /** Put handlers' stack traces in error replies. For development: stacks tell an attacker about your code. */
  exposeStack?: boolean;
}

/** Options of one {@link Muxer.rpc} call. */
export interface RpcOptions {
  /**
   * Milliseconds to wait for the reply; `Infinity` for no limit. Default: the muxer's
   * `timeout`. Deadlines are kept in 10 ms ticks: a call times out up to 10 ms late, never early.
   */
  timeout?: number;
  /** Aborting it rejects the call at once with code `aborted`. */
  signal?: AbortSignal;
}

/** Options of {@link Muxer.readPacket}. */
export interface ReadPacketOptions {
  /** Aborting it rejects the read with code `aborted` and gives up its place. */
  signal?: AbortSignal;
}

const resolved: Promise<void> = Promise.resolve();

/**
 * One end of a bimux connection. Either end can call the other: {@link rpc} for
 * request/response, {@link send} for one-way messages. The Go original's `Muxer`.
 *
 * Every call settles: with the reply, or with a {@link BimuxError} on timeout,
 * abort, error reply, or at once when the connection closes.
 */
export class Muxer {
  /** True when the peer negotiated the bimux-ts extensions (cancel, ping, timeouts). */
  readonly extensions: boolean;
  #duplex: Duplex;
  #options: MuxerOptions;
  #calls: CallTable;
  #dispatcher: Dispatcher;
  #outbound: Outbound;
  #inbound: Inbound;
  #keepalive: Keepalive | undefined;
  #timeout: number;
  #maxPending: number;
  #waiters: Array<(info: CloseInfo) => void> | undefined;
  #id: string;
  #closeInfo: CloseInfo | undefined;
  #closeError: BimuxError | undefined;

  /** What the muxer's parts call it back with (see the constructor); inside the class, so that it reaches the muxer's private members. */
  static readonly #Link = class Link implements InboundOwner, OutboundOwner, KeepaliveOwner {
    constructor(readonly muxer: Muxer) {}

    get closed(): boolean {
      return this.muxer.closed;
    }

    fail(code: number, error: BimuxError): void {
      this.muxer.#fail(code, error);
    }

    report(error: BimuxError): void {
      this.muxer.#report(error);
    }

    ended(code: number, reason: string, error?: unknown): void {
      this.muxer.#finish({ code, reason, initiator: error === undefined ? "remote" : "local", error: error === undefined ? error : BimuxError.from(error, "unavailable") });
    }

    probe(): boolean {
      return this.muxer.#outbound.probe();
    }

    stalled(): boolean {
      return this.muxer.#outbound.writes.stalled();
    }

    holding(): boolean {
      return this.muxer.#dispatcher.holding;
    }

    // The peer stopped answering: give up on it now, rather than wait for TCP to notice.
    // Dropped where the transport can: a dead peer answers no close handshake.
    lost(): void {
      const muxer = this.muxer;
      muxer.#fail(Close.ABNORMAL, new BimuxError("unavailable", "peer stopped answering keepalive"), muxer.#duplex.terminate ? 0 : Close.GOING_AWAY);
    }
  };

  /**
   * Wraps an open `duplex`. The muxer takes it over: nothing else may read from or write to it.
   * Throws `invalid_argument` for options it cannot take (a timeout that is not positive, a route that is not an int32).
   */
  constructor(duplex: Duplex, options: MuxerOptions = {}) {
    this.#duplex = duplex;
    this.#options = options;
    this.#id = options.id ?? "";
    this.#timeout = checkTimeout(options.timeout ?? TIMEOUT);
    this.#maxPending = options.maxPendingCalls ?? MAX_PENDING_CALLS;
    const maxSize = options.maxMessageSize ?? MAX_MESSAGE_SIZE;
    const extensions = (this.extensions = negotiated(duplex.protocol));
    const writes = new Backpressure(duplex, options.highWaterMark ?? HIGH_WATER_MARK, options.maxQueuedBytes ?? MAX_QUEUED_BYTES, FRAME_OVERHEAD);
    // The parts see the muxer through this one link: whether it is closed, how it closes, what it
    // reports, and what the keepalive asks. Methods of one object, not closures: a server holds
    // tens of thousands of connections.
    const link = new Muxer.#Link(this);
    const outbound = (this.#outbound = new Outbound(duplex, maxSize, extensions, link, writes));
    this.#calls = new CallTable(outbound);
    const dispatcher = (this.#dispatcher = new Dispatcher(this, outbound, duplex, link, options));
    for (const [route, handler] of Object.entries(options.handlers ?? {})) this.handle(+route, handler);
    for (const [route, handler] of Object.entries(options.onewayHandlers ?? {})) this.handleOneway(+route, handler);
    const interval = options.keepalive === false ? Infinity : checkTimeout(options.keepalive?.interval ?? KEEPALIVE_INTERVAL, "keepalive.interval");
    if (interval !== Infinity) this.#keepalive = new Keepalive(interval, link);
    this.#inbound = new Inbound(link, this.#calls, dispatcher, outbound, this.#keepalive, maxSize);
    duplex.open(this.#inbound);
  }

  /** The application's name for this connection (Go `GetID`/`SetID`). */
  get id(): string {
    return this.#id;
  }

  set id(id: string) {
    const previous = this.#id;
    if (id !== previous) {
      this.#id = id;
      this.#options.onIdChange?.(this, previous);
    }
  }

  /** True once the connection has ended or begun closing. */
  get closed(): boolean {
    return !!this.#closeInfo;
  }

  /** How the connection ended; undefined while it is open. */
  get closeDetails(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /** Outbound calls waiting for a reply. */
  get pendingCalls(): number {
    return this.#calls.size;
  }

  /**
   * Inbound calls still owed an answer. A call the caller cancelled, one past its
   * deadline, or one the close ended no longer counts, though its handler may still run.
   */
  get servingCalls(): number {
    return this.#dispatcher.inFlight;
  }

  /** Bytes written but not yet sent on the network (the transport's `bufferedAmount`). */
  get bufferedAmount(): number {
    return this.#duplex.bufferedAmount;
  }

  /**
   * Serves requests on `route` with `handler`, replacing any handler it had.
   * Returns a function that removes it again.
   */
  handle(route: number, handler: RpcHandler): () => void {
    return this.#dispatcher.handle(route, handler);
  }

  /**
   * Handles one-way messages on `route` with `handler`, replacing any it had.
   * Returns a function that removes it again.
   */
  handleOneway(route: number, handler: OnewayHandler): () => void {
    return this.#dispatcher.handleOneway(route, handler);
  }

  /**
   * Calls the peer's handler for `route` with `data` and resolves to its reply (Go `Rpc`).
   *
   * Rejects with a {@link BimuxError}: `timeout`, `aborted`, `closed`, `invalid_argument`,
   * `overloaded`, `too_large`, or the peer's error reply (`remote`, `unimplemented`, …, with `remote` set).
   */
  rpc(route: number, data: Uint8Array, options: RpcOptions = {}): Promise<Uint8Array> {
    try {
      this.#check("rpc", route, data);
      const timeout = options.timeout === undefined ? this.#timeout : checkTimeout(options.timeout);
      const signal = options.signal;
      if (signal?.aborted) throw new BimuxError("aborted", `rpc to route ${route} was aborted`, { cause: signal.reason });
      if (this.#calls.size >= this.#maxPending) {
        throw new BimuxError("overloaded", `${this.#maxPending} calls already wait for a reply (maxPendingCalls)`);
      }
      const number = this.#calls.next();
      // The callee may stop working when the caller stops waiting: tell it how long that is.
      const bytes = this.#outbound.encode(number, Wire.REQUEST, route, data, this.extensions && timeout !== Infinity ? Math.ceil(timeout) : 0);
      const reply = this.#calls.add(number, route, timeout, signal);
      try {
        this.#outbound.writes.write(bytes);
      } catch (error) {
        this.#calls.fail(number, BimuxError.from(error, "closed"));
      }
      return reply;
    } catch (error) {
      return rejected(error);
    }
  }

  /** Sends a one-way message to the peer's handler for `route` (Go `Send`). Nothing comes back. */
  send(route: number, data: Uint8Array): Promise<void> {
    try {
      this.#check("send", route, data);
      return this.#written(this.#outbound.encode(this.#calls.next(), Wire.ONEWAY, route, data));
    } catch (error) {
      return rejected(error);
    }
  }

  /**
   * Writes `packet` as one binary message, as is (Go `WritePacket`). The peer's
   * muxer will try to decode it as an envelope, so this is for peers that read raw.
   */
  writePacket(packet: Uint8Array): Promise<void> {
    try {
      this.#check("writePacket", 0, packet);
      return this.#written(this.#outbound.checkSize(packet));
    } catch (error) {
      return rejected(error);
    }
  }

  /**
   * Takes the next inbound binary message raw, before the muxer decodes it (Go
   * `ReadPacket`). While reads are waiting, arriving messages go to them in order
   * instead of to the handlers: use it for a handshake before the muxing starts.
   */
  readPacket({ signal }: ReadPacketOptions = {}): Promise<Uint8Array> {
    return this.#inbound.raw.read(signal);
  }

  /** Resolves when the connection has ended, with how it ended (Go `Wait`). Never rejects. */
  wait(): Promise<CloseInfo> {
    return new Promise((resolve) => (this.#closeInfo ? resolve(this.#closeInfo) : (this.#waiters ??= []).push(resolve)));
  }

  /**
   * Closes the connection (Go `Close`). Every pending call rejects at once with
   * code `closed`; handlers still running see their signal abort. Idempotent.
   */
  close(code: number = Close.NORMAL, reason = ""): void {
    if (!this.#closeInfo) {
      this.#finish({ code, reason, initiator: "local" });
      this.#closeDuplex(code, reason);
    }
  }

  /** Throws what keeps an outbound operation from starting: a closed connection, or bad arguments. */
  #check(what: string, route: number, data: Uint8Array): void {
    if (this.#closeInfo) throw this.#closedError(what);
    checkCall(route, data);
  }

  /** Writes `bytes`; resolves at once, or once the transport has drained below the high-water mark. */
  #written(bytes: Uint8Array): Promise<void> {
    const { writes } = this.#outbound;
    writes.write(bytes);
    return writes.drained() ?? resolved;
  }

  /**
   * The peer broke the protocol: close with `code`, and say why to everyone waiting.
   * The peer is told `sent`, the same code unless said otherwise; 0 drops the connection.
   */
  #fail(code: number, error: BimuxError, sent = code): void {
    if (!this.#closeInfo) {
      this.#finish({ code, reason: error.rawMessage, initiator: "local", error });
      if (sent) this.#closeDuplex(sent, error.rawMessage);
      else this.#duplex.terminate!();
    }
  }

  #closeDuplex(code: number, reason: string): void {
    try {
      this.#duplex.close(code, closeReason(reason));
    } catch (error) {
      // An invalid close code, say: report it, and still end the connection, or the peer is never told.
      this.#report(BimuxError.from(error));
      try {
        this.#duplex.close(Close.NORMAL, "");
      } catch {
        // Already closing: nothing is left to end.
      }
    }
  }

  #finish(info: CloseInfo): void {
    if (this.#closeInfo) return;
    this.#closeInfo = info;
    const error = (this.#closeError = new BimuxError("closed", `connection closed (${info.initiator}, code ${info.code}, reason "${info.reason}")`, {
      cause: info.error,
    }));
    this.#keepalive?.stop();
    this.#outbound.writes.fail(error);
    this.#calls.failAll(error);
    this.#inbound.raw.close((operation) => this.#closedError(operation));
    this.#dispatcher.abortAll(error);
    this.#waiters?.forEach((resolve) => resolve(info));
    try {
      this.#options.onClose?.(this);
    } catch (hookError) {
      this.#report(BimuxError.from(hookError));
    }
  }

  #closedError(operation: string): BimuxError {
    return new BimuxError("closed", `${operation} on a closed connection`, { cause: this.#closeError });
  }

  #report(error: BimuxError): void {
    const { onError } = this.#options;
    try {
      if (onError) return onError(error, this);
    } catch {
      // A failing onError must not break what reported (a close, say): the console has the error.
    }
    console.error(`bimux: ${error.message}`);
  }
}

/** A promise rejected with `error` as a BimuxError: outbound operations never throw, they reject. */
function rejected(error: unknown): Promise<never> {
  return Promise.reject(BimuxError.from(error, "closed"));
}

/** RFC 6455 allows 123 bytes of close reason: a longer one is cut at a character boundary, with "…". */
function closeReason(reason: string): string {
  const bytes = utf8Encoder.encode(reason);
  if (bytes.length <= 123) return reason;
  // The cut goes back to the start of the character it falls in (continuation bytes are 10xxxxxx),
  // so that a U+FFFD of the reason itself is kept, and a leading U+FEFF too (ignoreBOM).
  let end = 120;
  while ((bytes[end]! & 0xc0) === 0x80) end--;
  return `${new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes.subarray(0, end))}…`;
}

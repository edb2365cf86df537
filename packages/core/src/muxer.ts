import { CallTable } from "./call-table.js";
import {
  Wire,
  decodeErrorReply,
  decodeFrame,
  encodeErrorReply,
  writeFrame,
  checkCall,
  EMPTY,
  utf8Encoder,
  type Frame,
  type FrameAllocator,
} from "./codec.js";
import { Dispatcher, type DispatcherHost, type OnewayHandler, type RpcHandler } from "./dispatcher.js";
import { Close, type Duplex, type DuplexSink } from "./duplex.js";
import { BimuxError, isErrorCode } from "./errors.js";
import { text } from "./text.js";
import { EXTENSIONS_PROTOCOL } from "./extensions.js";
import { Keepalive, type KeepaliveOwner } from "./keepalive.js";
import { Backpressure } from "./backpressure.js";

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
  /** Largest message sent or accepted, in bytes. A larger inbound one closes with 1009. Default 64 MiB. */
  maxMessageSize?: number;
  /** Inbound requests served at once; more get an `overloaded` error reply. Default 1000. */
  maxConcurrent?: number;
  /**
   * Bytes the transport may buffer before `send` and `writePacket` resolve only
   * once it drains below this again (backpressure: await them). Default 1 MiB.
   */
  highWaterMark?: number;
  /**
   * Bytes the transport may buffer beyond `highWaterMark`; past that, writes fail
   * with `overloaded`, and a peer whose answers pile up there is closed with 1008. Default 16 MiB.
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

interface RawReader {
  resolve(packet: Uint8Array): void;
  reject(error: BimuxError): void;
}

const MiB = 1024 * 1024;
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
  declare readonly extensions: boolean; // set by the constructor, with no field definition to ship
  #duplex: Duplex;
  #options: MuxerOptions;
  #calls: CallTable;
  #dispatcher: Dispatcher;
  #writes: Backpressure;
  #keepalive: Keepalive | undefined;
  #timeout: number;
  #maxSize: number;
  // Made when first needed, like every table here: idle connections should be cheap.
  #readers: RawReader[] | undefined;
  #held: Uint8Array[] | undefined;
  #waiters: Array<(info: CloseInfo) => void> | undefined;
  #id: string;
  #closeInfo: CloseInfo | undefined;
  #closeError: BimuxError | undefined;

  /** Wraps an open `duplex`. The muxer takes it over: nothing else may read from or write to it. */
  constructor(duplex: Duplex, options: MuxerOptions = {}) {
    this.#duplex = duplex;
    this.#options = options;
    this.#id = options.id ?? "";
    this.#timeout = checkTimeout(options.timeout ?? 30_000);
    this.#maxSize = options.maxMessageSize ?? 64 * MiB;
    this.extensions = duplex.protocol === EXTENSIONS_PROTOCOL;
    const link = new Muxer.#Link(this);
    this.#calls = new CallTable(link);
    this.#writes = new Backpressure(duplex, options.highWaterMark ?? MiB, options.maxQueuedBytes ?? 16 * MiB);
    this.#dispatcher = new Dispatcher(link, options);
    for (const [route, handler] of Object.entries(options.handlers ?? {})) this.handle(+route, handler);
    for (const [route, handler] of Object.entries(options.onewayHandlers ?? {})) this.handleOneway(+route, handler);
    const interval = options.keepalive === false ? Infinity : checkTimeout(options.keepalive?.interval ?? 5000);
    if (interval !== Infinity) this.#keepalive = new Keepalive(interval, link);
    duplex.open(link);
  }

  /**
   * Everything the muxer's parts call back into it through: the transport's sink,
   * the dispatcher's host, the call table's and the keepalive's owner. One object
   * with shared methods rather than a closure for each: a server holds one per
   * connection, and may hold tens of thousands. Nested here to reach the muxer's
   * private members.
   */
  static #Link = class Link implements DuplexSink, DispatcherHost, KeepaliveOwner {
    constructor(readonly owner: Muxer) {}

    message(data: Uint8Array | string): void {
      this.owner.#receive(data);
    }

    closed(code: number, reason: string, error?: unknown): void {
      // Messages held after a raw read arrived before the close: they go on first.
      this.owner.#releaseAll();
      this.owner.#finish({
        code,
        reason,
        initiator: error === undefined ? "remote" : "local",
        error: error === undefined ? error : BimuxError.from(error, "unavailable"),
      });
    }

    alive(): void {
      this.owner.#keepalive?.heard();
    }

    reply(frame: Frame): void {
      this.owner.#send(frame);
    }

    report(error: BimuxError): void {
      this.owner.#report(error);
    }

    /** Tells the callee to stop; a Go peer would not know the flag, so it is only sent when negotiated. */
    abandoned(number: number): void {
      if (this.owner.extensions) this.owner.#write(number, Wire.CANCEL);
    }

    /**
     * A transport ping where there is one: a browser's network stack answers it even while
     * the page's JavaScript is busy, where a ping message waits for the page. Else the
     * ping message, to a peer that negotiated it.
     */
    probe(): boolean {
      const muxer = this.owner;
      const duplex = muxer.#duplex;
      if (duplex.ping) duplex.ping();
      else if (muxer.extensions) muxer.#write(0, Wire.PING);
      return !!(duplex.ping || muxer.extensions);
    }

    /** The peer stopped answering: give up on it now, rather than wait for TCP to notice. */
    lost(): void {
      const muxer = this.owner;
      // Dropped where the transport can: a dead peer answers no close handshake.
      muxer.#fail(Close.ABNORMAL, new BimuxError("unavailable", text`peer stopped answering keepalive`), muxer.#duplex.terminate ? 0 : Close.GOING_AWAY);
    }
  };

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
      if (signal?.aborted) throw new BimuxError("aborted", text`rpc to route ${route} was aborted`, { cause: signal.reason });
      const number = this.#calls.next();
      const frame: Frame = { number, flag: Wire.REQUEST, route, data };
      // The callee may stop working when the caller stops waiting: tell it how long that is.
      if (this.extensions && timeout !== Infinity) frame.timeout = Math.ceil(timeout);
      const bytes = this.#encode(frame);
      const reply = this.#calls.add(number, route, timeout, signal);
      try {
        this.#writes.write(bytes);
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
      return this.#written(this.#encode({ number: this.#calls.next(), flag: Wire.ONEWAY, route, data }));
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
      return this.#written(this.#checkSize(packet));
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
    return new Promise<Uint8Array>((resolve, reject) => {
      // The listener goes as the read settles, not a `finally` later: a `finally` would settle
      // a read with a signal some microtasks after a read without one, out of order.
      const done = () => signal?.removeEventListener("abort", aborted);
      const reader: RawReader = {
        resolve: (packet) => (done(), resolve(packet)),
        reject: (error) => (done(), reject(error)),
      };
      const aborted = () => {
        this.#readers = this.#readers?.filter((r) => r !== reader);
        reader.reject(new BimuxError("aborted", text`readPacket was aborted`, { cause: signal!.reason }));
      };
      if (this.#closeInfo) reader.reject(this.#closedError("readPacket"));
      else if (signal?.aborted) aborted();
      else if (this.#held?.length) reader.resolve(this.#held.shift()!);
      else {
        (this.#readers ??= []).push(reader);
        signal?.addEventListener("abort", aborted);
      }
    });
  }

  /** Ends a hold: what it kept goes on in order, to reads that wait or else to the handlers. */
  #release(held: Uint8Array[]): void {
    if (this.#held !== held) return;
    this.#held = undefined;
    while (held.length && !this.#held) this.#receive(held.shift()!);
    // A read given one of them started a new hold: the rest wait in that one, in order.
    (this.#held as Uint8Array[] | undefined)?.push(...held);
  }

  /** Ends every hold at once: what is held arrived before what comes now. */
  #releaseAll(): void {
    while (this.#held) this.#release(this.#held);
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
    this.#writes.write(bytes);
    return this.#writes.drained() ?? resolved;
  }

  #receive(data: Uint8Array | string): void {
    if (this.#closeInfo) return;
    this.#keepalive?.heard();
    if (typeof data === "string" || data.length > this.#maxSize) {
      // What is held arrived before this violation closes the connection: it goes on first.
      this.#releaseAll();
      // #fail does nothing if one of them closed the connection.
      return typeof data === "string"
        ? this.#fail(Close.UNSUPPORTED_DATA, new BimuxError("protocol", text`text message; bimux speaks binary`))
        : this.#fail(Close.MESSAGE_TOO_BIG, new BimuxError("too_large", text`received ${data.length} bytes; the limit is ${this.#maxSize}`));
    }
    // Raw reads (see readPacket). While a hold lasts, a read already waiting comes first;
    // else the message waits its turn, in order.
    const reader = this.#readers?.shift();
    if (this.#held) return void (reader ? reader.resolve(data) : this.#held.push(data));
    if (reader) {
      // What arrives next is held back until the next macrotask rather than dispatched: the
      // reader's continuation (microtasks) may read again, and a peer's handshake messages
      // often come in one burst.
      reader.resolve(data);
      const held: Uint8Array[] = (this.#held = []);
      return void setTimeout(() => this.#release(held), 0);
    }
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (error) {
      return this.#fail(Close.PROTOCOL_ERROR, BimuxError.from(error, "protocol"));
    }
    const { number, flag } = frame;
    // Field 5 and flags 4-6 mean something only on a connection that negotiated them: from a
    // plain peer they are someone else's, which a Go peer would skip and drop, and so do we.
    if (!this.extensions) {
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
    else if (flag === Wire.PING) this.#write(number, Wire.PONG);
    // A pong's arrival was the sign of life; anything else is a flag nobody negotiated.
    else if (flag !== Wire.PONG) this.#fail(Close.PROTOCOL_ERROR, new BimuxError("protocol", text`unknown flag ${flag}`));
  }

  /** Writes a control frame: cancel, ping or pong. */
  #write(number: Frame["number"], flag: number): void {
    this.#send({ number, flag, route: 0, data: EMPTY });
  }

  /** Writes a reply or control frame, unless the connection is gone: then nobody is waiting for it. */
  #send(frame: Frame, fallback?: boolean): void {
    if (this.#closeInfo) return;
    try {
      this.#writes.write(this.#encode(frame), frame.flag >= Wire.CANCEL);
    } catch (error) {
      const failure = BimuxError.from(error, "closed");
      const { code, rawMessage } = failure;
      // A peer that keeps asking but does not read its answers is the slow reader
      // backpressure guards against: close rather than buffer without bound.
      if (code === "overloaded") this.#fail(Close.POLICY_VIOLATION, failure);
      // An answer (or error reply) too large to send still owes the caller an answer: a short error.
      // (What comes here is answers, error replies and control frames, which answer nobody.)
      else if (code === "too_large" && !fallback && frame.flag < Wire.CANCEL) {
        this.#send({ ...frame, flag: Wire.ERROR, data: encodeErrorReply({ code, message: text`reply: ${rawMessage}` }) }, true);
      }
      // A transport that refuses to send is closing: the close will tell everyone
      // waiting here, and the caller on the other side learns it from its own.
      else if (code !== "closed") this.#report(failure);
    }
  }

  /** Encodes an outbound frame, refusing what the peer would refuse as too large. */
  #encode(frame: Frame): Uint8Array {
    const duplex = this.#duplex;
    return this.#checkSize(writeFrame(frame, (duplex.allocate && duplex) as FrameAllocator | undefined));
  }

  /** `bytes`, unless larger than the peer accepts: then `too_large`, as the peer would close. */
  #checkSize(bytes: Uint8Array): Uint8Array {
    if (bytes.length > this.#maxSize) throw new BimuxError("too_large", text`${bytes.length} bytes exceed the limit of ${this.#maxSize}`);
    return bytes;
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
    const error = (this.#closeError = new BimuxError("closed", text`connection closed (${info.initiator}, code ${info.code}, reason "${info.reason}")`, {
      cause: info.error,
    }));
    this.#keepalive?.stop();
    this.#writes.fail(error);
    this.#calls.failAll(error);
    // Nothing reads these tables once closed: they need no emptying.
    this.#readers?.forEach((reader) => reader.reject(error));
    this.#dispatcher.abortAll(error);
    this.#waiters?.forEach((resolve) => resolve(info));
    try {
      this.#options.onClose?.(this);
    } catch (hookError) {
      this.#report(BimuxError.from(hookError));
    }
  }

  #closedError(operation: string): BimuxError {
    return new BimuxError("closed", text`${operation} on a closed connection`, { cause: this.#closeError });
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

function remoteError(frame: Frame): BimuxError {
  let reply = { code: "remote", message: text`unreadable error reply` };
  try {
    reply = decodeErrorReply(frame.data);
  } catch {
    // Keep the defaults: a reply we cannot read still means the call failed.
  }
  const { code, message } = reply;
  return new BimuxError(isErrorCode(code) ? code : "remote", message || text`call to route ${frame.route} failed`, { remote: true });
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

/** @internal The timeout in ms, `Infinity` for none; throws `invalid_argument` unless positive. */
export function checkTimeout(timeout: number): number {
  if (!(timeout > 0)) throw new BimuxError("invalid_argument", text`timeout must be a positive number of ms, got ${timeout}`);
  // Timers cannot wait longer than 2^31 - 1 ms (about 24.8 days): beyond that means no limit.
  return timeout > 0x7fffffff ? Infinity : timeout;
}

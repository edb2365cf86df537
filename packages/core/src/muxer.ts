import { CallTable } from "./call-table.js";
import { Flag, decodeErrorReply, decodeFrame, encodeFrame, type Frame } from "./codec.js";
import { Dispatcher, type OnewayHandler, type RpcHandler } from "./dispatcher.js";
import { CloseCode, type Duplex } from "./duplex.js";
import { BimuxError, isErrorCode } from "./errors.js";
import { EXTENSIONS_PROTOCOL } from "./extensions.js";
import { Keepalive } from "./keepalive.js";
import { WriteQueue } from "./write-queue.js";

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
   * it (a ping message if it negotiated extensions, else a WebSocket ping where the
   * transport has one); no answer within another interval closes the connection,
   * rejecting its calls. Default `{ interval: 5000 }`; `false` turns it off.
   */
  keepalive?: false | { interval?: number };
  /** Largest message sent or accepted, in bytes. A larger inbound one closes with 1009. Default 64 MiB. */
  maxMessageSize?: number;
  /** Inbound requests served at once; more get an `overloaded` error reply. Default 1000. */
  maxConcurrent?: number;
  /** Bytes the transport may buffer before writes wait here (backpressure). Default 1 MiB. */
  highWaterMark?: number;
  /** Bytes that may wait here behind a full transport; past that, writes fail with `overloaded`. Default 16 MiB. */
  maxQueuedBytes?: number;
  /** Put handlers' stack traces in error replies. For development: stacks tell an attacker about your code. */
  exposeStack?: boolean;
}

/** Options of one {@link Muxer.rpc} call. */
export interface RpcOptions {
  /** Milliseconds to wait for the reply; `Infinity` for no limit. Default: the muxer's `timeout`. */
  timeout?: number;
  /** Aborting it rejects the call at once with code `aborted`. */
  signal?: AbortSignal;
}

/** Options of {@link Muxer.readPacket}. */
export interface ReadPacketOptions {
  /** Aborting it rejects the read with code `aborted` and gives up its place. */
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT = 30_000;
const DEFAULT_KEEPALIVE_INTERVAL = 5_000;
const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
const resolved: Promise<void> = Promise.resolve();

/**
 * One end of a bimux connection. Either end can call the other: {@link rpc} for
 * request/response, {@link send} for one-way messages. The Go original's `Muxer`.
 *
 * Every call settles: with the reply, or with a {@link BimuxError} on timeout,
 * abort, error reply, or at once when the connection closes.
 */
export class Muxer {
  private readonly duplex: Duplex;
  private readonly calls: CallTable;
  private readonly dispatcher: Dispatcher;
  private readonly writes: WriteQueue;
  private readonly keepalive: Keepalive | undefined;
  private readonly options: MuxerOptions;
  private readonly defaultTimeout: number;
  private readonly maxMessageSize: number;
  /** True when the peer negotiated the bimux-ts extensions (cancel, ping, timeouts). */
  readonly extensions: boolean;
  private readonly rawReaders: Array<{ resolve(packet: Uint8Array): void; reject(error: BimuxError): void }> = [];
  private currentId: string;
  private closeInfo: CloseInfo | undefined;
  private closeError: BimuxError | undefined;
  private readonly waiters: Array<(info: CloseInfo) => void> = [];

  /** Wraps an open `duplex`. The muxer takes it over: nothing else may read from or write to it. */
  constructor(duplex: Duplex, options: MuxerOptions = {}) {
    this.duplex = duplex;
    this.options = options;
    this.currentId = options.id ?? "";
    this.defaultTimeout = checkTimeout(options.timeout ?? DEFAULT_TIMEOUT);
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.extensions = duplex.protocol === EXTENSIONS_PROTOCOL;
    this.calls = new CallTable((number) => {
      // Tell the callee to stop; a Go peer would not know the flag, so it is only sent when negotiated.
      if (this.extensions) this.write({ number, flag: Flag.cancel, route: 0, data: EMPTY });
    });
    this.writes = new WriteQueue(duplex, options.highWaterMark ?? 1024 * 1024, options.maxQueuedBytes ?? 16 * 1024 * 1024);
    this.dispatcher = new Dispatcher(
      {
        muxer: this,
        reply: (frame) => this.write(frame),
        report: (error) => this.report(error),
        closedReason: () => this.closeError,
      },
      {
        onRpc: options.onRpc,
        onOneway: options.onOneway,
        maxConcurrent: options.maxConcurrent ?? 1000,
        exposeStack: options.exposeStack ?? false,
      },
    );
    for (const [route, handler] of Object.entries(options.handlers ?? {})) this.handle(Number(route), handler);
    for (const [route, handler] of Object.entries(options.onewayHandlers ?? {})) this.handleOneway(Number(route), handler);
    if (options.keepalive !== false) {
      this.keepalive = new Keepalive(
        checkTimeout(options.keepalive?.interval ?? DEFAULT_KEEPALIVE_INTERVAL),
        () => this.probe(),
        () => this.lost(),
      );
    }
    duplex.open({
      message: (data) => this.receive(data),
      closed: (code, reason, error) => this.finish(closeInfoOf(code, reason, error)),
      alive: () => this.keepalive?.heardFrom(),
    });
  }

  /** The application's name for this connection (Go `GetID`/`SetID`). */
  get id(): string {
    return this.currentId;
  }

  set id(id: string) {
    const previous = this.currentId;
    if (id === previous) return;
    this.currentId = id;
    this.options.onIdChange?.(this, previous);
  }

  /** True once the connection has ended or begun closing. */
  get closed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** How the connection ended; undefined while it is open. */
  get closeDetails(): CloseInfo | undefined {
    return this.closeInfo;
  }

  /** Outbound calls waiting for a reply. */
  get pendingCalls(): number {
    return this.calls.size;
  }

  /** Inbound calls whose handler has not finished yet. */
  get servingCalls(): number {
    return this.dispatcher.inFlightCount;
  }

  /** Bytes written but not yet sent on the network: buffered by the transport plus waiting here. */
  get bufferedAmount(): number {
    return this.duplex.bufferedAmount + this.writes.queuedBytes;
  }

  /**
   * Serves requests on `route` with `handler`, replacing any handler it had.
   * Returns a function that removes it again.
   */
  handle(route: number, handler: RpcHandler): () => void {
    checkRoute(route);
    const routes = this.dispatcher.rpcRoutes;
    routes.set(route, handler);
    return () => {
      if (routes.get(route) === handler) routes.delete(route);
    };
  }

  /**
   * Handles one-way messages on `route` with `handler`, replacing any it had.
   * Returns a function that removes it again.
   */
  handleOneway(route: number, handler: OnewayHandler): () => void {
    checkRoute(route);
    const routes = this.dispatcher.onewayRoutes;
    routes.set(route, handler);
    return () => {
      if (routes.get(route) === handler) routes.delete(route);
    };
  }

  /**
   * Calls the peer's handler for `route` with `data` and resolves to its reply (Go `Rpc`).
   *
   * Rejects with a {@link BimuxError}: `timeout`, `aborted`, `closed`, `invalid_argument`,
   * or the peer's error reply (`remote`, `unimplemented`, …, with `remote` set).
   */
  rpc(route: number, data: Uint8Array, options: RpcOptions = {}): Promise<Uint8Array> {
    try {
      if (this.closeInfo) throw this.closedError("rpc");
      checkRoute(route);
      checkData(data);
      const timeout = options.timeout === undefined ? this.defaultTimeout : checkTimeout(options.timeout);
      const signal = options.signal;
      if (signal?.aborted) throw new BimuxError("aborted", `rpc to route ${route} was aborted`, { cause: signal.reason });
      const number = this.calls.nextNumber();
      const frame: Frame = { number, flag: Flag.request, route, data };
      // The callee may stop working when the caller stops waiting: tell it how long that is.
      if (this.extensions && timeout !== Infinity) frame.timeout = Math.ceil(timeout);
      const bytes = this.encode(frame);
      const reply = this.calls.add(number, timeout, signal, () => `rpc #${number} to route ${route}`);
      try {
        this.writes.write(bytes)?.catch((error: BimuxError) => this.calls.fail(number, error));
      } catch (error) {
        this.calls.fail(number, BimuxError.from(error, "closed"));
      }
      return reply;
    } catch (error) {
      return Promise.reject(BimuxError.from(error));
    }
  }

  /** Sends a one-way message to the peer's handler for `route` (Go `Send`). Nothing comes back. */
  send(route: number, data: Uint8Array): Promise<void> {
    try {
      if (this.closeInfo) throw this.closedError("send");
      checkRoute(route);
      checkData(data);
      return this.writes.write(this.encode({ number: this.calls.nextNumber(), flag: Flag.oneway, route, data })) ?? resolved;
    } catch (error) {
      return Promise.reject(BimuxError.from(error, "closed"));
    }
  }

  /**
   * Writes `packet` as one binary message, as is (Go `WritePacket`). The peer's
   * muxer will try to decode it as an envelope, so this is for peers that read raw.
   */
  writePacket(packet: Uint8Array): Promise<void> {
    try {
      if (this.closeInfo) throw this.closedError("writePacket");
      checkData(packet);
      return this.writes.write(packet) ?? resolved;
    } catch (error) {
      return Promise.reject(BimuxError.from(error, "closed"));
    }
  }

  /**
   * Takes the next inbound binary message raw, before the muxer decodes it (Go
   * `ReadPacket`). While reads are waiting, arriving messages go to them in order
   * instead of to the handlers: use it for a handshake before the muxing starts.
   */
  readPacket(options: ReadPacketOptions = {}): Promise<Uint8Array> {
    if (this.closeInfo) return Promise.reject(this.closedError("readPacket"));
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new BimuxError("aborted", "readPacket was aborted", { cause: signal.reason }));
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.rawReaders.indexOf(reader);
        if (index >= 0) this.rawReaders.splice(index, 1);
        reject(new BimuxError("aborted", "readPacket was aborted", { cause: signal?.reason }));
      };
      const reader = {
        resolve: (packet: Uint8Array) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(packet);
        },
        reject: (error: BimuxError) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.rawReaders.push(reader);
    });
  }

  /** Resolves when the connection has ended, with how it ended (Go `Wait`). Never rejects. */
  wait(): Promise<CloseInfo> {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Closes the connection (Go `Close`). Every pending call rejects at once with
   * code `closed`; handlers still running see their signal abort. Idempotent.
   */
  close(code: number = CloseCode.normal, reason = ""): void {
    if (this.closeInfo) return;
    this.finish({ code, reason, initiator: "local" });
    this.closeDuplex(code, reason);
  }

  private receive(data: Uint8Array | string): void {
    if (this.closeInfo) return;
    this.keepalive?.heardFrom();
    if (typeof data === "string") {
      this.fail(CloseCode.unsupportedData, new BimuxError("protocol", "received a text message; bimux speaks binary only"));
      return;
    }
    if (data.length > this.maxMessageSize) {
      this.fail(
        CloseCode.messageTooBig,
        new BimuxError("too_large", `received a ${data.length}-byte message; the limit is ${this.maxMessageSize}`),
      );
      return;
    }
    const reader = this.rawReaders.shift();
    if (reader) {
      reader.resolve(data);
      return;
    }
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (error) {
      this.fail(CloseCode.protocolError, BimuxError.from(error, "protocol"));
      return;
    }
    switch (frame.flag) {
      case Flag.response:
        // A reply whose number is not ours (a bigint, say) matches nothing and is dropped, as in Go.
        if (typeof frame.number === "number") this.calls.resolve(frame.number, frame.data);
        return;
      case Flag.error:
        if (typeof frame.number === "number") this.calls.fail(frame.number, remoteError(frame));
        return;
      case Flag.request:
        this.dispatcher.request(frame);
        return;
      case Flag.oneway:
        this.dispatcher.oneway(frame);
        return;
      case Flag.cancel:
        this.dispatcher.cancel(frame.number);
        return;
      case Flag.ping:
        this.write({ number: frame.number, flag: Flag.pong, route: 0, data: EMPTY });
        return;
      case Flag.pong:
        return; // Its arrival was the sign of life.
      default:
        this.fail(CloseCode.protocolError, new BimuxError("protocol", `unknown flag ${frame.flag}`));
    }
  }

  /** Writes a reply, unless the connection is gone: then nobody is waiting for it. */
  private write(frame: Frame): void {
    if (this.closeInfo) return;
    const control = frame.flag >= Flag.cancel;
    try {
      this.writes.write(encodeFrame(frame), control)?.catch(() => {
        // Only fails when the connection closes, which everyone waiting has been told of.
      });
    } catch (error) {
      const failure = BimuxError.from(error, "closed");
      // A peer that keeps asking but does not read its answers is the slow reader
      // backpressure guards against: close rather than buffer without bound.
      if (failure.code === "overloaded") this.fail(CloseCode.policyViolation, failure);
      else this.report(failure);
    }
  }

  /** Encodes an outbound frame, refusing what the peer would refuse as too large. */
  private encode(frame: Frame): Uint8Array {
    const bytes = encodeFrame(frame);
    if (bytes.length > this.maxMessageSize) {
      throw new BimuxError("too_large", `message of ${bytes.length} bytes exceeds the limit of ${this.maxMessageSize}`);
    }
    return bytes;
  }

  /** Asks the peer for a sign of life; false when there is no way to. */
  private probe(): boolean {
    if (this.extensions) {
      this.write({ number: 0, flag: Flag.ping, route: 0, data: EMPTY });
      return true;
    }
    if (this.duplex.ping) {
      this.duplex.ping();
      return true;
    }
    return false;
  }

  /** The peer stopped answering: give up on it now, rather than wait for TCP to notice. */
  private lost(): void {
    if (this.closeInfo) return;
    const error = new BimuxError("unavailable", "the peer stopped answering keepalive probes");
    this.finish({ code: CloseCode.abnormal, reason: error.rawMessage, initiator: "local", error });
    if (this.duplex.terminate) this.duplex.terminate();
    else this.closeDuplex(CloseCode.goingAway, error.rawMessage);
  }

  /** The peer broke the protocol: close with `code`, and say why to everyone waiting. */
  private fail(code: number, error: BimuxError): void {
    if (this.closeInfo) return;
    this.finish({ code, reason: error.rawMessage, initiator: "local", error });
    this.closeDuplex(code, error.rawMessage);
  }

  private closeDuplex(code: number, reason: string): void {
    try {
      this.duplex.close(code, truncateReason(reason));
    } catch (error) {
      // An invalid close code, say: the connection is over for us either way.
      this.report(BimuxError.from(error, "internal"));
    }
  }

  private finish(info: CloseInfo): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    const cause = info.error;
    const detail = info.reason ? `${info.code} ${info.reason}` : `${info.code}`;
    this.closeError = new BimuxError("closed", `connection closed (${info.initiator}, ${detail})`, { cause });
    this.keepalive?.stop();
    this.writes.fail(this.closeError);
    this.calls.failAll(this.closeError);
    for (const reader of this.rawReaders.splice(0)) reader.reject(this.closeError);
    this.dispatcher.abortAll(this.closeError);
    for (const resolve of this.waiters.splice(0)) resolve(info);
    try {
      this.options.onClose?.(this);
    } catch (error) {
      this.report(BimuxError.from(error, "internal"));
    }
  }

  private closedError(operation: string): BimuxError {
    return new BimuxError("closed", `${operation} on a closed connection`, { cause: this.closeError });
  }

  private report(error: BimuxError): void {
    if (this.options.onError) this.options.onError(error, this);
    else console.error(`bimux: ${error.message}`);
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** What the transport reported on close, as the muxer tells it. */
function closeInfoOf(code: number, reason: string, error: unknown): CloseInfo {
  if (error === undefined) return { code, reason, initiator: "remote" };
  const tooLarge = code === CloseCode.messageTooBig;
  const wrapped = tooLarge
    ? new BimuxError("too_large", reason || "a message exceeded the size limit", { cause: error })
    : BimuxError.from(error, "unavailable");
  return { code, reason, initiator: "local", error: wrapped };
}

function remoteError(frame: Frame): BimuxError {
  let code = "remote";
  let message = "";
  try {
    ({ code, message } = decodeErrorReply(frame.data));
  } catch {
    message = "unreadable error reply";
  }
  return new BimuxError(isErrorCode(code) ? code : "remote", message || `call to route ${frame.route} failed`, {
    remote: true,
  });
}

function checkRoute(route: number): void {
  if (!(Number.isInteger(route) && route >= -2147483648 && route <= 2147483647)) {
    throw new BimuxError("invalid_argument", `route must be an int32, got ${String(route)}`);
  }
}

function checkData(data: Uint8Array): void {
  if (!(data instanceof Uint8Array)) {
    throw new BimuxError("invalid_argument", "data must be a Uint8Array");
  }
}

function checkTimeout(timeout: number): number {
  if (!(timeout > 0)) throw new BimuxError("invalid_argument", `timeout must be a positive number of ms, got ${timeout}`);
  // Timers cannot wait longer than 2^31 - 1 ms (about 24.8 days): beyond that means no limit.
  return timeout > 0x7fffffff ? Infinity : timeout;
}

/** RFC 6455 limits a close reason to 123 bytes of UTF-8. */
function truncateReason(reason: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(reason).length <= 123) return reason;
  let cut = reason.slice(0, 120);
  while (encoder.encode(cut).length > 120) cut = cut.slice(0, -1);
  return `${cut}…`;
}

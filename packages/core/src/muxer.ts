import { CallTable } from "./call-table.js";
import { Flag, decodeErrorReply, decodeFrame, encodeFrame, type Frame } from "./codec.js";
import { Dispatcher, type OnewayHandler, type RpcHandler } from "./dispatcher.js";
import { CloseCode, type Duplex } from "./duplex.js";
import { BimuxError, isErrorCode } from "./errors.js";

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
  private readonly calls = new CallTable();
  private readonly dispatcher: Dispatcher;
  private readonly options: MuxerOptions;
  private readonly defaultTimeout: number;
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
    this.dispatcher = new Dispatcher(
      {
        muxer: this,
        reply: (frame) => this.write(frame),
        report: (error) => this.report(error),
        closedReason: () => this.closeError,
      },
      options.onRpc,
      options.onOneway,
    );
    for (const [route, handler] of Object.entries(options.handlers ?? {})) this.handle(Number(route), handler);
    for (const [route, handler] of Object.entries(options.onewayHandlers ?? {})) this.handleOneway(Number(route), handler);
    duplex.open({
      message: (data) => this.receive(data),
      closed: (code, reason) => this.finish({ code, reason, initiator: "remote" }),
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

  /** Bytes written but not yet sent on the network. */
  get bufferedAmount(): number {
    return this.duplex.bufferedAmount;
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
      const bytes = encodeFrame({ number, flag: Flag.request, route, data });
      const reply = this.calls.add(number, timeout, signal, () => `rpc #${number} to route ${route}`);
      try {
        this.duplex.send(bytes);
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
      this.duplex.send(encodeFrame({ number: this.calls.nextNumber(), flag: Flag.oneway, route, data }));
      return resolved;
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
      this.duplex.send(packet);
      return resolved;
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
    if (typeof data === "string") {
      this.fail(CloseCode.unsupportedData, new BimuxError("protocol", "received a text message; bimux speaks binary only"));
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
      default:
        this.fail(CloseCode.protocolError, new BimuxError("protocol", `unknown flag ${frame.flag}`));
    }
  }

  /** Writes a reply, unless the connection is gone: then nobody is waiting for it. */
  private write(frame: Frame): void {
    if (this.closeInfo) return;
    try {
      this.duplex.send(encodeFrame(frame));
    } catch (error) {
      this.report(BimuxError.from(error, "closed"));
    }
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

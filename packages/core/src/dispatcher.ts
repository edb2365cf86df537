import { BimuxError } from "./errors.js";
import { Flag, encodeErrorReply, type Frame, type WireNumber } from "./codec.js";
import type { Muxer } from "./muxer.js";

/** What an rpc handler may return: the reply bytes, or nothing for an empty reply. */
export type RpcResult = Uint8Array | void;

/**
 * Serves one inbound request, like the Go original's `RpcServeFunc`: return (or
 * resolve to) the reply bytes. Throwing or rejecting sends the caller a typed
 * error reply instead; a `BimuxError`'s code travels with it, anything else
 * arrives as code `remote`.
 */
export type RpcHandler = (
  route: number,
  data: Uint8Array,
  muxer: Muxer,
  context: CallContext,
) => RpcResult | Promise<RpcResult>;

/** Handles one inbound one-way message, like the Go original's `OnewayFunc`. */
export type OnewayHandler = (route: number, data: Uint8Array, muxer: Muxer) => void | Promise<void>;

/** What an {@link RpcHandler} knows about the call it serves. */
export interface CallContext {
  /** The caller's request number. */
  readonly number: WireNumber;
  /** The route the call was made on. */
  readonly route: number;
  /** Milliseconds the caller said it would wait, if it said (bimux-ts callers do). */
  readonly timeout: number | undefined;
  /**
   * Aborts when nobody waits for the answer any more: the caller cancelled, its
   * timeout passed, or the connection closed. The reason is a {@link BimuxError}.
   */
  readonly signal: AbortSignal;
}

/** Settings of a {@link Dispatcher}. */
export interface DispatcherOptions {
  onRpc: RpcHandler | undefined;
  onOneway: OnewayHandler | undefined;
  /** Most inbound requests served at once; more are refused with `overloaded`. */
  maxConcurrent: number;
  /** Send handlers' stack traces to callers (for development only). */
  exposeStack: boolean;
}

/** Longest error message sent to a peer; longer ones are cut. */
const MAX_ERROR_MESSAGE = 1024;

/**
 * An inbound call in progress. Its AbortController, and the timer for the
 * caller's deadline, are only made if the handler asks for the signal.
 */
class InboundCall implements CallContext {
  private controller: AbortController | undefined;
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private readonly receivedAt: number;

  constructor(
    readonly number: WireNumber,
    readonly route: number,
    readonly timeout: number | undefined,
    private readonly closedReason: () => BimuxError | undefined,
  ) {
    this.receivedAt = timeout === undefined ? 0 : Date.now();
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      const reason = this.closedReason();
      if (reason) this.controller.abort(reason);
      else if (this.timeout !== undefined) {
        const left = this.receivedAt + this.timeout - Date.now();
        const expire = () => this.abort(new BimuxError("timeout", `the caller's ${this.timeout} ms deadline passed`));
        if (left <= 0) expire();
        else this.deadline = setTimeout(expire, left);
      }
    }
    return this.controller.signal;
  }

  abort(reason: BimuxError): void {
    this.done();
    this.controller?.abort(reason);
  }

  done(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
  }
}

/** Where the dispatcher sends replies and reports failures it cannot reply to. */
export interface DispatcherHost {
  readonly muxer: Muxer;
  /** Writes a reply frame, unless the connection has closed. */
  reply(frame: Frame): void;
  /** A one-way handler failed: nobody is waiting to be told, so it is reported locally. */
  report(error: BimuxError): void;
  /** Why the connection closed, once it has. */
  closedReason(): BimuxError | undefined;
}

/**
 * Routes inbound requests and one-way messages to handlers: the per-route ones
 * first, then the catch-all hooks of the Go original. Every request gets at most
 * one answer, a response or an error reply; none once the caller cancelled.
 */
export class Dispatcher {
  /** Per-route request handlers. */
  readonly rpcRoutes = new Map<number, RpcHandler>();
  /** Per-route one-way handlers. */
  readonly onewayRoutes = new Map<number, OnewayHandler>();
  // Only calls whose handler went asynchronous are here: the others are already answered.
  private readonly inFlight = new Set<InboundCall>();
  // The same calls by number, for cancel. A peer that reuses a number in flight (it
  // must not) gets its latest call cancelled, but every call is still aborted on close.
  private readonly byNumber = new Map<WireNumber, InboundCall>();

  constructor(
    private readonly host: DispatcherHost,
    private readonly options: DispatcherOptions,
  ) {}

  /** How many inbound calls are being served asynchronously right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  request(frame: Frame): void {
    const { number, route } = frame;
    const handler = this.rpcRoutes.get(route) ?? this.options.onRpc;
    if (!handler) {
      this.replyError(number, route, new BimuxError("unimplemented", `no handler for route ${route}`));
      return;
    }
    if (this.inFlight.size >= this.options.maxConcurrent) {
      this.replyError(
        number,
        route,
        new BimuxError("overloaded", `too many calls in flight (limit ${this.options.maxConcurrent}); try again later`),
      );
      return;
    }
    const call = new InboundCall(number, route, frame.timeout, () => this.host.closedReason());
    let result: RpcResult | Promise<RpcResult>;
    try {
      result = handler(route, frame.data, this.host.muxer, call);
    } catch (error) {
      call.done();
      this.replyError(number, route, error);
      return;
    }
    if (!isPromiseLike(result)) {
      call.done();
      this.replyValue(number, route, result);
      return;
    }
    this.inFlight.add(call);
    this.byNumber.set(number, call);
    result.then(
      (value) => {
        if (this.finish(call)) this.replyValue(number, route, value);
      },
      (error: unknown) => {
        if (this.finish(call)) this.replyError(number, route, error);
      },
    );
  }

  /** The caller gave up on call `number`: abort its handler's signal, and send no answer. */
  cancel(number: WireNumber): void {
    const call = this.byNumber.get(number);
    if (!call) return;
    this.byNumber.delete(number);
    this.inFlight.delete(call);
    call.abort(new BimuxError("aborted", "the caller cancelled the call"));
  }

  oneway(frame: Frame): void {
    const handler = this.onewayRoutes.get(frame.route) ?? this.options.onOneway;
    if (!handler) return; // As in the Go original: nobody asked, nobody is told.
    try {
      const result = handler(frame.route, frame.data, this.host.muxer);
      if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.reportOneway(frame.route, error));
    } catch (error) {
      this.reportOneway(frame.route, error);
    }
  }

  /** The connection closed: tell every handler still running, through its signal. */
  abortAll(reason: BimuxError): void {
    const calls = [...this.inFlight];
    this.inFlight.clear();
    this.byNumber.clear();
    for (const call of calls) call.abort(reason);
  }

  /** Takes a finished call out of the table; false if it was cancelled or the connection closed meanwhile. */
  private finish(call: InboundCall): boolean {
    call.done();
    if (!this.inFlight.delete(call)) return false;
    if (this.byNumber.get(call.number) === call) this.byNumber.delete(call.number);
    return true;
  }

  private replyValue(number: WireNumber, route: number, value: RpcResult): void {
    if (value === undefined) value = new Uint8Array(0);
    else if (!(value instanceof Uint8Array)) {
      this.replyError(
        number,
        route,
        new BimuxError("internal", `handler for route ${route} returned ${describe(value)}, not a Uint8Array`),
      );
      return;
    }
    this.host.reply({ number, flag: Flag.response, route, data: value });
  }

  private replyError(number: WireNumber, route: number, error: unknown): void {
    const { code, message } = toReply(error, this.options.exposeStack);
    this.host.reply({ number, flag: Flag.error, route, data: encodeErrorReply({ code, message }) });
  }

  private reportOneway(route: number, error: unknown): void {
    const wrapped = BimuxError.from(error, "remote");
    this.host.report(
      new BimuxError(wrapped.code, `one-way handler for route ${route} failed: ${wrapped.rawMessage}`, { cause: error }),
    );
  }
}

function toReply(error: unknown, exposeStack: boolean): { code: string; message: string } {
  let code = "remote";
  let message: string;
  if (error instanceof BimuxError) {
    code = error.code;
    message = error.rawMessage;
  } else if (error instanceof Error) {
    message = error.message;
  } else {
    message = String(error);
  }
  // Stacks and causes stay on this side unless the application asked otherwise.
  if (exposeStack && error instanceof Error && error.stack) return { code, message: `${message}\n${error.stack}` };
  if (message.length > MAX_ERROR_MESSAGE) message = `${message.slice(0, MAX_ERROR_MESSAGE)}…`;
  return { code, message };
}

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === "function";
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `an object (${Object.prototype.toString.call(value)})`;
  return `a ${typeof value}`;
}

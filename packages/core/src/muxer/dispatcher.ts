import { MAX_CONCURRENT, MAX_ERROR_MESSAGE } from "../defaults.js";
import { BimuxError } from "../errors.js";
import { EMPTY, checkRoute, encodeErrorReply, type FlagValue, type Frame, type WireNumber } from "../wire/codec.js";
import { Wire } from "../wire/flags.js";
import type { Muxer } from "./muxer.js";
import { NumberTable } from "./number-table.js";

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

/** Where the dispatcher's answers go: the muxer's outbound side. */
export interface ReplySink {
  /** Writes a reply to call `number` on `route`, unless the connection has closed. */
  reply(number: WireNumber, flag: FlagValue, route: number, data: Uint8Array): void;
}

/** A transport that can stop reading (TCP backpressure): what holds a peer that sends one-way messages faster than they are handled. */
export interface FlowControl {
  pause?(): void;
  resume?(): void;
}

/** The settings a {@link Dispatcher} reads (the muxer's options). */
export interface DispatcherOptions {
  onRpc?: RpcHandler;
  onOneway?: OnewayHandler;
  /**
   * Most inbound handlers running at once, requests and one-way messages together.
   * Requests past it are refused with `overloaded`; one-way messages past it wait, and
   * the connection stops reading until handlers finish. Default 1000.
   */
  maxConcurrent?: number;
  /** Send handlers' stack traces to callers (for development only). */
  exposeStack?: boolean;
}

/**
 * An inbound call in progress. Its AbortController, and the timer for the
 * caller's deadline, are only made if the handler asks for the signal, or the
 * call is aborted first: a handler that looks later still sees the abort.
 */
class InboundCall implements CallContext {
  #controller: AbortController | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #answered: boolean | undefined;
  // When the caller stops waiting, on the monotonic clock (as the caller's own deadline is,
  // see timers.ts), so a wall-clock step cannot drop answers; never if it did not say.
  #due: number;

  constructor(
    readonly number: WireNumber,
    readonly route: number,
    readonly timeout: number | undefined,
  ) {
    // Beyond what a timer can wait (2^31 - 1 ms, though the wire allows 2^32 - 1): no limit,
    // as the muxer treats its own timeouts.
    if (timeout! > 0x7fffffff) this.timeout = undefined;
    this.#due = this.timeout ? performance.now() + this.timeout : Infinity;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      const expire = () => {
        // A timer may fire a little before the clock reaches the deadline: from here on the
        // call is past it, whatever the clock says, so the answer the signal stopped is not sent.
        this.#due = 0;
        this.end(new BimuxError("timeout", `the caller's ${this.timeout} ms passed`));
      };
      // A call already answered in time keeps a live signal, however late the handler looks at it.
      if (this.expired && !this.#answered) expire();
      // No timer for a call already answered: nobody would clear it.
      else if (this.timeout && !this.#answered) this.#deadline = setTimeout(expire, this.#due - performance.now());
    }
    return this.#controller.signal;
  }

  /** True once the caller's deadline has passed: it has stopped waiting, so no answer is sent. */
  get expired(): boolean {
    return performance.now() >= this.#due;
  }

  /**
   * The call is answered, or never will be: its deadline timer goes. With a `reason`,
   * nobody waits for the answer any more, and the handler's signal says so.
   */
  end(reason?: BimuxError): void {
    this.#answered = true;
    clearTimeout(this.#deadline);
    // Aborting an aborted controller keeps its first reason.
    if (reason) (this.#controller ??= new AbortController()).abort(reason);
  }
}

/**
 * Routes inbound requests and one-way messages to handlers: the per-route ones
 * first, then the catch-all hooks of the Go original. Every request gets at most
 * one answer, a response or an error reply; none once the caller cancelled.
 */
export class Dispatcher {
  // The tables are made when first needed: most connections never use some of them,
  // and a server may hold tens of thousands of idle ones.
  #rpcRoutes: Map<number, RpcHandler> | undefined;
  #onewayRoutes: Map<number, OnewayHandler> | undefined;
  // Calls whose handler went asynchronous, by number (the others are already answered).
  // Not a Map: with a call set and deleted per request its discarded tables chain up and
  // get every call promoted (see NumberTable).
  #inFlight: NumberTable<InboundCall> | undefined;
  #owner: Muxer;
  #replies: ReplySink;
  #flow: FlowControl;
  // One-way messages that arrived past maxConcurrent (what the transport had read before it paused).
  #backlog: Frame[] | undefined;
  #reporter: { report(error: BimuxError): void };
  #options: DispatcherOptions;
  /** Handlers that may run at once: `maxConcurrent`, read once. */
  #max: number;
  #closed: BimuxError | undefined;
  // Handlers still running, cancelled or replaced ones included: what maxConcurrent bounds,
  // or a peer could pile up work by cancelling each call it makes.
  #running = 0;

  /**
   * @param owner the muxer handlers are given
   * @param replies where answers are written
   * @param flow the transport, paused while one-way handlers are at the limit
   * @param reporter told when a one-way handler fails: nobody waits to hear of it
   */
  constructor(owner: Muxer, replies: ReplySink, flow: FlowControl, reporter: { report(error: BimuxError): void }, options: DispatcherOptions) {
    this.#owner = owner;
    this.#replies = replies;
    this.#flow = flow;
    this.#max = options.maxConcurrent ?? MAX_CONCURRENT;
    this.#reporter = reporter;
    this.#options = options;
  }

  /** How many inbound calls are being served asynchronously right now. */
  get inFlight(): number {
    return this.#inFlight?.size ?? 0;
  }

  /** True while one-way messages wait for handlers to finish, and the transport is paused. */
  get holding(): boolean {
    return !!this.#backlog;
  }

  /** Serves requests on `route` with `handler`; returns a function that removes it. */
  handle(route: number, handler: RpcHandler): () => void {
    return register((this.#rpcRoutes ??= new Map()), route, handler);
  }

  /** Handles one-way messages on `route` with `handler`; returns a function that removes it. */
  handleOneway(route: number, handler: OnewayHandler): () => void {
    return register((this.#onewayRoutes ??= new Map()), route, handler);
  }

  serve(frame: Frame): void {
    const { number, route } = frame;
    const handler = this.#rpcRoutes?.get(route) ?? this.#options.onRpc;
    const call = new InboundCall(number, route, frame.timeout);
    // A peer that reuses a number still in flight (it must not) gets one answer on it:
    // the earlier call is aborted, unanswered, however the new one is answered.
    this.drop(number, true);
    let result: RpcResult | Promise<RpcResult>;
    try {
      // A call refused is answered as one whose handler threw.
      if (!handler) throw new BimuxError("unimplemented", `no handler for route ${route}`);
      if (this.#running >= this.#max) throw new BimuxError("overloaded", `over ${this.#max} calls in flight`);
      result = handler(route, frame.data, this.#owner, call);
    } catch (error) {
      return this.#answer(call, error, true);
    }
    // Answered at once, as most are: no bookkeeping. (After a close, the reply goes nowhere.)
    if (!isPromise(result)) return this.#answer(call, result);
    // The handler closed the connection in its synchronous part: nothing is in flight any more.
    if (this.#closed) {
      result.then(undefined, () => {}); // nobody will hear of its failure either
      return call.end(this.#closed);
    }
    (this.#inFlight ??= new NumberTable()).add(call);
    this.#running++;
    result.then(
      (value) => this.#settle(call, value),
      (error: unknown) => this.#settle(call, error, true),
    );
  }

  /** Answers `call` if it is still ours: not cancelled, not replaced, connection not closed. */
  #settle(call: InboundCall, value: unknown, failed?: boolean): void {
    this.#finished();
    if (this.#inFlight?.get(call.number) === call) {
      this.#inFlight.take(call.number);
      this.#answer(call, value, failed);
    }
  }

  /**
   * Sends the one answer to `call`: its handler's bytes, or, when it `failed`, an error
   * reply for what it threw (`value`, whatever it is: `undefined` too).
   */
  #answer(call: InboundCall, value: unknown, failed?: boolean): void {
    const { number, route } = call;
    call.end();
    if (call.expired) return;
    if (!failed) {
      if (value === undefined || value instanceof Uint8Array) {
        return this.#replies.reply(number, Wire.RESPONSE, route, value ?? EMPTY);
      }
      value = new BimuxError("internal", `handler for route ${route} returned no Uint8Array`);
    }
    const { code, rawMessage } = BimuxError.from(value, "remote");
    // Stacks and causes stay on this side unless the application asked otherwise; a message
    // is cut to 1 KiB.
    const stack = this.#options.exposeStack && value instanceof Error && value.stack;
    const message = stack ? `${rawMessage}\n${stack}` : cut(rawMessage, MAX_ERROR_MESSAGE);
    this.#replies.reply(number, Wire.ERROR, route, encodeErrorReply({ code, message }));
  }

  /**
   * The caller gave up on call `number`, or `reused` its number for a new call: abort its
   * handler's signal, and send no answer. The reason is only made when there is such a call:
   * every request checks for one.
   */
  drop(number: WireNumber, reused?: boolean): void {
    const call = this.#inFlight?.take(number);
    if (call) {
      call.end(new BimuxError("aborted", reused ? `the caller reused its number` : `the caller cancelled`));
    }
  }

  /**
   * Hands a one-way message to its handler (as in the Go original: no handler, nobody is
   * told). Past `maxConcurrent` running handlers it waits, in order, and the transport stops
   * reading: a peer cannot pile up work faster than it is done.
   */
  deliver(frame: Frame): void {
    if (this.#closed) return;
    if (this.#backlog || this.#running >= this.#max) {
      if (!this.#backlog) {
        this.#backlog = [];
        this.#flow.pause?.();
      }
      this.#backlog.push(frame);
      return;
    }
    const { route } = frame;
    const handler = this.#onewayRoutes?.get(route) ?? this.#options.onOneway;
    try {
      const result = handler?.(route, frame.data, this.#owner);
      if (isPromise(result)) {
        this.#running++;
        result.then(
          () => this.#finished(),
          (error: unknown) => {
            this.#finished();
            this.#failed(route, error);
          },
        );
      }
    } catch (error) {
      this.#failed(route, error);
    }
  }

  /** A one-way handler for `route` threw or rejected: nobody waits to hear it, so it is reported. */
  #failed(route: number, error: unknown): void {
    const { code, rawMessage } = BimuxError.from(error, "remote");
    this.#reporter.report(new BimuxError(code, `one-way handler for route ${route} failed: ${rawMessage}`, { cause: error }));
  }

  /** A handler finished: one-way messages waiting for a place get it, and the transport reads again once none wait. */
  #finished(): void {
    this.#running--;
    const backlog = this.#backlog;
    if (!backlog) return;
    this.#backlog = undefined;
    while (backlog.length && this.#running < this.#max && !this.#backlog) this.deliver(backlog.shift()!);
    if (backlog.length) (this.#backlog ??= []).unshift(...backlog);
    else if (!this.#backlog && !this.#closed) this.#flow.resume?.();
  }

  /** The connection closed: tell every handler still running, through its signal. */
  abortAll(reason: BimuxError): void {
    this.#closed = reason;
    const calls = this.#inFlight;
    // Emptied first: the handlers' abort listeners run at once, and must find nothing in flight.
    this.#inFlight = undefined;
    for (const call of calls?.values() ?? []) call.end(reason);
  }
}

function register<H>(routes: Map<number, H>, route: number, handler: H): () => void {
  checkRoute(route);
  routes.set(route, handler);
  return () => {
    if (routes.get(route) === handler) routes.delete(route);
  };
}

/** `text` cut to `max` UTF-16 units, never between the two halves of a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === "function";
}

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
  /** Aborts when the call no longer needs an answer: the connection closed. */
  readonly signal: AbortSignal;
}

/** Longest error message sent to a peer; longer ones are cut. */
const MAX_ERROR_MESSAGE = 1024;

/** An inbound call in progress. Its AbortController is made only if a handler asks for the signal. */
class InboundCall implements CallContext {
  private controller: AbortController | undefined;
  constructor(
    readonly number: WireNumber,
    readonly route: number,
    private readonly closedReason: () => BimuxError | undefined,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      const reason = this.closedReason();
      if (reason) this.controller.abort(reason);
    }
    return this.controller.signal;
  }

  abort(reason: BimuxError): void {
    this.controller?.abort(reason);
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
 * first, then the catch-all hooks of the Go original. Every request gets exactly
 * one answer, a response or an error reply.
 */
export class Dispatcher {
  /** Per-route request handlers. */
  readonly rpcRoutes = new Map<number, RpcHandler>();
  /** Per-route one-way handlers. */
  readonly onewayRoutes = new Map<number, OnewayHandler>();
  private readonly inFlight = new Set<InboundCall>();

  constructor(
    private readonly host: DispatcherHost,
    private readonly onRpc: RpcHandler | undefined,
    private readonly onOneway: OnewayHandler | undefined,
  ) {}

  /** How many inbound calls are being served asynchronously right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  request(frame: Frame): void {
    const { number, route } = frame;
    const handler = this.rpcRoutes.get(route) ?? this.onRpc;
    if (!handler) {
      this.replyError(number, route, new BimuxError("unimplemented", `no handler for route ${route}`));
      return;
    }
    const call = new InboundCall(number, route, () => this.host.closedReason());
    let result: RpcResult | Promise<RpcResult>;
    try {
      result = handler(route, frame.data, this.host.muxer, call);
    } catch (error) {
      this.replyError(number, route, error);
      return;
    }
    if (isPromiseLike(result)) {
      this.inFlight.add(call);
      result.then(
        (value) => {
          this.inFlight.delete(call);
          this.replyValue(number, route, value);
        },
        (error: unknown) => {
          this.inFlight.delete(call);
          this.replyError(number, route, error);
        },
      );
    } else {
      this.replyValue(number, route, result);
    }
  }

  oneway(frame: Frame): void {
    const handler = this.onewayRoutes.get(frame.route) ?? this.onOneway;
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
    for (const call of this.inFlight) call.abort(reason);
    this.inFlight.clear();
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
    const { code, message } = toReply(error);
    this.host.reply({ number, flag: Flag.error, route, data: encodeErrorReply({ code, message }) });
  }

  private reportOneway(route: number, error: unknown): void {
    const wrapped = BimuxError.from(error, "remote");
    this.host.report(new BimuxError(wrapped.code, `one-way handler for route ${route} failed: ${wrapped.rawMessage}`, { cause: error }));
  }
}

function toReply(error: unknown): { code: string; message: string } {
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
  // Only the message crosses the wire: stacks and causes stay on this side.
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

import { DEFAULTS, checkTimeout } from "./defaults.js";
import { BimuxError } from "./errors.js";
import { unwatch, watch } from "./muxer/abort-signals.js";
import type { OnewayHandler, RpcHandler } from "./muxer/dispatcher.js";
import { Muxer, type CloseInfo, type MuxerOptions, type RpcOptions } from "./muxer/muxer.js";
import type { Duplex } from "./transport/duplex.js";
import { checkCall, checkRoute } from "./wire/codec.js";

/** Where a {@link ReconnectingMuxer} stands. */
export type ConnectionState = "connecting" | "open" | "closed";

/** How a {@link ReconnectingMuxer} retries, and what happens to calls made while it is down. */
export interface ReconnectOptions {
  /** Delay before the first retry, in ms. Default 250. */
  initialDelay?: number;
  /** Longest delay between retries, in ms. Default 30 000. */
  maxDelay?: number;
  /** Each failed attempt multiplies the delay by this. Default 2. */
  factor?: number;
  /** Fraction of each delay that is random, so that many clients do not retry in step. Default 0.5. */
  jitter?: number;
  /**
   * Consecutive failed attempts before giving up for good. Default `Infinity`. A connection
   * that ends within 5 s of opening (a server that accepts, then turns the client away) counts
   * as a failed attempt, and does not reset the backoff.
   */
  maxAttempts?: number;
  /**
   * Calls (rpc and send) that may wait for the connection while it is down; they
   * go out once it is back, still bound by their own timeout and signal. Default 0:
   * a call made while disconnected fails at once with `unavailable`.
   */
  queueLimit?: number;
  /**
   * Whether to try again after a connection attempt failed with `error`. Default: yes,
   * unless the server refused the upgrade with 401 (`unauthenticated`) or 403
   * (`permission_denied`): those would be refused again, so the client closes for good,
   * and its `ready()`, its waiting calls and its `wait()` settle with that error.
   */
  shouldRetry?: (error: BimuxError) => boolean;
}

/** The default {@link ReconnectOptions.shouldRetry}: every failure but a refusal of who the client is. */
function retryable(error: BimuxError): boolean {
  return error.code !== "unauthenticated" && error.code !== "permission_denied";
}

/** Options of a {@link ReconnectingMuxer}: the muxer's hooks, kept across reconnects, and the retry policy. */
export interface ReconnectingMuxerOptions extends Omit<MuxerOptions, "onIdChange">, ReconnectOptions {
  /** Called on every change of {@link ReconnectingMuxer.state}. */
  onStateChange?: (state: ConnectionState, client: ReconnectingMuxer) => void;
}

/**
 * Opens a new connection; rejects if it cannot. Must give up when `signal` aborts.
 * `attempt` counts the attempts from 0, for a connector that turns to another server.
 */
export type Connect = (signal: AbortSignal, attempt: number) => Promise<Duplex>;

interface WaitingCall {
  resolve(muxer: Muxer): void;
  reject(error: BimuxError): void;
}

/**
 * A client connection that comes back: when the connection drops it dials again,
 * with exponential backoff and jitter, keeping its handlers, hooks and id. Calls
 * in flight when a connection drops reject with `closed` (they may or may not
 * have run); calls made while disconnected fail fast, or wait in a bounded queue.
 */
export class ReconnectingMuxer {
  private readonly connect: Connect;
  private readonly options: ReconnectingMuxerOptions;
  private readonly rpcRoutes = new Map<number, RpcHandler>();
  private readonly onewayRoutes = new Map<number, OnewayHandler>();
  private readonly waiting: WaitingCall[] = [];
  private readonly stop = new AbortController();
  private readonly ended: Promise<CloseInfo>;
  private endWith!: (info: CloseInfo) => void;
  private current: Muxer | undefined;
  private currentState: ConnectionState = "connecting";
  private currentId: string;
  private finalInfo: CloseInfo | undefined;
  private finalError: BimuxError | undefined;
  private readyWaiters: Array<{ resolve(): void; reject(error: BimuxError): void }> = [];
  private wake: (() => void) | undefined;

  /**
   * Makes a client and resolves once it is first connected: what `dialReconnecting`
   * does over WebSocket. Rejects with `aborted` when `signal` fires first (the client
   * is closed), or, out of attempts, with the reason it could not connect (`unavailable`).
   * @param what names the attempt in the `aborted` error, such as `dial ws://…`.
   */
  static async start(connect: Connect, options: ReconnectingMuxerOptions = {}, signal?: AbortSignal, what = "connecting"): Promise<ReconnectingMuxer> {
    const aborted = () => new BimuxError("aborted", `${what} was aborted`, { cause: signal?.reason });
    if (signal?.aborted) throw aborted();
    const client = new ReconnectingMuxer(connect, options);
    const onAbort = () => client.close(1000, "dial aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await client.ready();
    } catch (error) {
      if (signal?.aborted) throw aborted();
      // Out of attempts: the reason it could not connect, as a plain dial would give it.
      throw (error as BimuxError).cause instanceof BimuxError ? (error as BimuxError).cause : error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    return client;
  }

  constructor(connect: Connect, options: ReconnectingMuxerOptions = {}) {
    this.connect = connect;
    this.options = options;
    this.currentId = options.id ?? "";
    for (const [route, handler] of Object.entries(options.handlers ?? {})) this.rpcRoutes.set(Number(route), handler);
    for (const [route, handler] of Object.entries(options.onewayHandlers ?? {})) this.onewayRoutes.set(Number(route), handler);
    this.ended = new Promise((resolve) => (this.endWith = resolve));
    void this.run();
  }

  /** `connecting` (first time or again), `open`, or `closed` for good. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The muxer of the live connection, if there is one. */
  get muxer(): Muxer | undefined {
    return this.current;
  }

  /** The application's name for this client, carried over to every new connection. */
  get id(): string {
    return this.currentId;
  }

  set id(id: string) {
    this.currentId = id;
    if (this.current) this.current.id = id;
  }

  /** Resolves once connected (at once if it is); rejects if the client closes for good first. */
  ready(): Promise<void> {
    if (this.currentState === "open") return Promise.resolve();
    if (this.finalInfo) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Serves requests on `route`, on this and every later connection. Returns a function that removes it. */
  handle(route: number, handler: RpcHandler): () => void {
    return this.register(this.rpcRoutes, route, handler, (muxer) => muxer.handle(route, handler));
  }

  /** Handles one-way messages on `route`, on this and every later connection. Returns a function that removes it. */
  handleOneway(route: number, handler: OnewayHandler): () => void {
    return this.register(this.onewayRoutes, route, handler, (muxer) => muxer.handleOneway(route, handler));
  }

  /** {@link Muxer.rpc} on the live connection; while down, fails with `unavailable` or waits in the queue. */
  async rpc(route: number, data: Uint8Array, options: RpcOptions = {}): Promise<Uint8Array> {
    if (this.current) return this.current.rpc(route, data, options);
    // What the muxer would refuse at once is refused at once here too, not after a wait.
    checkCall(route, data);
    if (options.signal?.aborted) throw new BimuxError("aborted", `rpc to route ${route} was aborted`, { cause: options.signal.reason });
    // Elapsed time on the monotonic clock, as every deadline in core: a wall-clock step changes nothing.
    const started = performance.now();
    // One budget for the wait and the call: the call's own timeout, or the muxer's default.
    const timeout = checkTimeout(options.timeout ?? this.options.timeout ?? DEFAULTS.timeout);
    const muxer = await this.whenConnected({ ...options, timeout }, `rpc to route ${route}`);
    if (timeout === Infinity) return muxer.rpc(route, data, options);
    const left = timeout - (performance.now() - started);
    if (left <= 0) throw new BimuxError("timeout", `rpc to route ${route} timed out after ${timeout} ms waiting to reconnect`);
    return muxer.rpc(route, data, { ...options, timeout: left });
  }

  /** {@link Muxer.send} on the live connection; while down, fails with `unavailable` or waits in the queue. */
  async send(route: number, data: Uint8Array): Promise<void> {
    if (this.current) return this.current.send(route, data);
    checkCall(route, data);
    const muxer = await this.whenConnected({}, `send to route ${route}`);
    return muxer.send(route, data);
  }

  /** Resolves when the client has closed for good: closed by the application, or out of attempts. */
  wait(): Promise<CloseInfo> {
    return this.ended;
  }

  /** Closes the live connection and stops reconnecting. Pending and waiting calls reject with `closed`. */
  close(code = 1000, reason = ""): void {
    if (this.finalInfo) return;
    this.end({ code, reason, initiator: "local" });
    this.current?.close(code, reason);
  }

  /**
   * Keeps `handler` for every connection from now on, and gives it to the live one
   * through `attach`, which returns the muxer's remover. Removing it takes it from
   * whichever connection is live then, which after a reconnect is not the one it
   * was first given to.
   */
  private register<H>(routes: Map<number, H>, route: number, handler: H, attach: (muxer: Muxer) => () => void): () => void {
    checkRoute(route);
    routes.set(route, handler);
    if (this.current) attach(this.current);
    return () => {
      if (routes.get(route) !== handler) return;
      routes.delete(route);
      // The muxer's remover only removes the handler it was made for: attaching it
      // again and removing it at once takes it off the live connection, and only it.
      if (this.current) attach(this.current)();
    };
  }

  private async run(): Promise<void> {
    let failures = 0;
    let attempt = 0;
    const { maxAttempts = Infinity, shouldRetry = retryable } = this.options;
    // After a failed attempt: give up at the limit, else back off. False once it gave up.
    const failed = async (error: unknown): Promise<boolean> => {
      failures++;
      const cause = BimuxError.from(error, "unavailable");
      if (!shouldRetry(cause)) {
        // Refused for who it is: the reason itself is what every waiter is told.
        this.end({ code: 1006, reason: cause.rawMessage, initiator: "local", error: cause }, cause);
        return false;
      }
      if (failures >= maxAttempts) {
        this.end({ code: 1006, reason: `gave up after ${failures} attempts: ${cause.rawMessage}`, initiator: "local", error: cause });
        return false;
      }
      await this.sleep(this.delay(failures));
      return true;
    };
    while (!this.finalInfo) {
      this.setState("connecting");
      let duplex: Duplex;
      try {
        duplex = await this.connect(this.stop.signal, attempt++);
      } catch (error) {
        if (this.finalInfo || !(await failed(error))) return;
        continue;
      }
      if (this.finalInfo) {
        duplex.close(1000, "");
        return;
      }
      const opened = performance.now();
      let muxer: Muxer;
      try {
        muxer = this.open(duplex);
      } catch (error) {
        // Options the muxer refuses (a route that is not an int32…) would fail every time.
        duplex.close(1000, "");
        this.end({ code: 1000, reason: `invalid options`, initiator: "local", error: BimuxError.from(error) });
        return;
      }
      const info = await muxer.wait();
      this.current = undefined;
      if (this.finalInfo) return;
      const lasted = Math.round(performance.now() - opened);
      if (lasted < DEFAULTS.stableAfter) {
        // Accepted, then dropped at once: as good as refused, or a kicking server is hammered.
        if (!(await failed(new BimuxError("unavailable", `connection closed ${lasted} ms after opening (${info.code})`)))) return;
        continue;
      }
      failures = 0;
      // Even after a good connection, wait a little (with jitter) so a restarting server is not stampeded.
      await this.sleep(this.delay(0));
    }
  }

  private open(duplex: Duplex): Muxer {
    const muxer = new Muxer(duplex, {
      ...this.options,
      id: this.currentId,
      handlers: Object.fromEntries(this.rpcRoutes),
      onewayHandlers: Object.fromEntries(this.onewayRoutes),
      // An id set on the live connection (by a handler, say) is the client's id from then on.
      onIdChange: (live) => {
        if (live === this.current) this.currentId = live.id;
      },
      onClose: (closed) => {
        // From here on, calls see the client as down, not a closed muxer.
        if (this.current === closed) this.current = undefined;
        if (!this.finalInfo) this.setState("connecting");
        this.options.onClose?.(closed);
      },
    });
    // A close the transport held until open was replayed inside the constructor: not a live connection.
    if (muxer.closed) return muxer;
    this.current = muxer;
    this.setState("open");
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    for (const call of this.waiting.splice(0)) call.resolve(muxer);
    return muxer;
  }

  private whenConnected(options: RpcOptions, what: string): Promise<Muxer> {
    if (this.finalInfo) return Promise.reject(this.closedError());
    const limit = this.options.queueLimit ?? 0;
    if (this.waiting.length >= limit) {
      return Promise.reject(
        new BimuxError(
          "unavailable",
          limit
            ? `${what}: not connected (${this.currentState}), and ${limit} calls already wait`
            : `${what}: not connected (${this.currentState})`,
        ),
      );
    }
    return new Promise<Muxer>((resolve, reject) => {
      const { signal } = options;
      const timeout = checkTimeout(options.timeout ?? this.options.timeout ?? DEFAULTS.timeout);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const call: WaitingCall = {
        resolve: (muxer) => {
          cleanup();
          resolve(muxer);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const leave = (error: BimuxError) => {
        const index = this.waiting.indexOf(call);
        if (index >= 0) this.waiting.splice(index, 1);
        call.reject(error);
      };
      const onAbort = { handleEvent: () => leave(new BimuxError("aborted", `${what} was aborted while waiting to reconnect`, { cause: signal?.reason })) };
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        if (signal) unwatch(signal, onAbort);
      };
      if (signal?.aborted) return onAbort.handleEvent();
      // One listener per signal, however many waiting calls share it.
      if (signal) watch(signal, onAbort);
      if (timeout !== Infinity) {
        timer = setTimeout(() => leave(new BimuxError("timeout", `${what} timed out after ${timeout} ms waiting to reconnect`)), timeout);
      }
      this.waiting.push(call);
    });
  }

  private delay(failures: number): number {
    const { initialDelay = DEFAULTS.initialDelay, maxDelay = DEFAULTS.maxDelay, factor = DEFAULTS.factor, jitter = DEFAULTS.jitter } = this.options;
    const base = Math.min(maxDelay, initialDelay * factor ** Math.max(0, failures - 1));
    return base * (1 - jitter * Math.random());
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    try {
      this.options.onStateChange?.(state, this);
    } catch (error) {
      // The application's hook failing must not stop the client in the middle of a transition.
      console.error(`bimux: onStateChange failed: ${BimuxError.from(error).rawMessage}`);
    }
  }

  /** Closes the client for good; everyone waiting is told `error`, or that it closed. */
  private end(info: CloseInfo, error = this.closedError(info)): void {
    this.finalInfo = info;
    this.finalError = error;
    this.stop.abort(new BimuxError("closed", `client closed`));
    this.wake?.();
    this.setState("closed");
    for (const call of this.waiting.splice(0)) call.reject(error);
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(error);
    this.endWith(info);
  }

  private closedError(info = this.finalInfo): BimuxError {
    if (info === this.finalInfo && this.finalError) return this.finalError;
    return new BimuxError("closed", info?.reason ? `client closed: ${info.reason}` : `client closed`, { cause: info?.error });
  }
}

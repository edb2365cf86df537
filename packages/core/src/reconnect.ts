import { FACTOR, INITIAL_DELAY, JITTER, MAX_DELAY, STABLE_AFTER, TIMEOUT, checkTimeout } from "./defaults.js";
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

/**
 * One wait for the next connection (a `ready()` or a queued call), told the new muxer,
 * or why there will be none (its timer: that it is late). Also its signal's watcher:
 * called with nothing, it was aborted.
 */
interface Waiter {
  handleEvent(outcome?: Muxer | BimuxError): void;
}

/**
 * A client connection that comes back: when the connection drops it dials again,
 * with exponential backoff and jitter, keeping its handlers, hooks and id. Calls
 * in flight when a connection drops reject with `closed` (they may or may not
 * have run); calls made while disconnected fail fast, or wait in a bounded queue.
 */
export class ReconnectingMuxer {
  readonly #connect: Connect;
  /**
   * What each new connection's muxer is given: the application's options, with the
   * handlers and the id as they are now (a copy: they change with handle() and id).
   */
  readonly #options: ReconnectingMuxerOptions & { handlers: Record<number, RpcHandler>; onewayHandlers: Record<number, OnewayHandler> };
  // ready() waiters, and calls waiting in the queue (only they count against queueLimit).
  readonly #readies = new Set<Waiter>();
  readonly #queue = new Set<Waiter>();
  readonly #stop = new AbortController();
  // Declared before #ended, whose initializer sets it.
  #endWith!: (info: CloseInfo) => void;
  readonly #ended = new Promise<CloseInfo>((resolve) => (this.#endWith = resolve));
  #current: Muxer | undefined;
  /** Set once closed for good: what every wait is told from then on. */
  #error: BimuxError | undefined;
  /** Ends the backoff's pause early, when the client closes. */
  #wake: (() => void) | undefined;

  /**
   * Makes a client and resolves once it is first connected: what `dialReconnecting`
   * does over WebSocket. Rejects with `aborted` when `signal` fires first (the client
   * is closed), or, out of attempts, with the reason it could not connect (`unavailable`).
   * @param what names the attempt in the `aborted` error, such as `dial ws://…`.
   */
  static async start(connect: Connect, options: ReconnectingMuxerOptions = {}, signal?: AbortSignal, what = "connecting"): Promise<ReconnectingMuxer> {
    // Checked first: an aborted dial does not even try.
    if (signal?.aborted) throw new BimuxError("aborted", `${what} was aborted`, { cause: signal.reason });
    const client = new ReconnectingMuxer(connect, options);
    try {
      await client.#next(client.#readies, Infinity, what, Infinity, signal);
      return client;
    } catch (error) {
      // Aborted: the client goes too. (Closed already, this does nothing.)
      client.close();
      // Out of attempts or refused: the reason it could not connect, as a plain dial would give it.
      throw (await client.#ended).error ?? error;
    }
  }

  constructor(connect: Connect, options: ReconnectingMuxerOptions = {}) {
    this.#connect = connect;
    this.#options = { ...options, handlers: { ...options.handlers }, onewayHandlers: { ...options.onewayHandlers } };
    void this.#run();
  }

  /** `connecting` (first time or again), `open`, or `closed` for good. */
  get state(): ConnectionState {
    return this.#error ? "closed" : this.#current ? "open" : "connecting";
  }

  /** The muxer of the live connection, if there is one. */
  get muxer(): Muxer | undefined {
    return this.#current;
  }

  /** The application's name for this client, carried over to every new connection. */
  get id(): string {
    return this.#options.id ?? "";
  }

  set id(id: string) {
    this.#options.id = id;
    if (this.#current) this.#current.id = id;
  }

  /** Resolves once connected (at once if it is); rejects if the client closes for good first. */
  async ready(): Promise<void> {
    if (!this.#current) await this.#next(this.#readies, Infinity);
  }

  /** Serves requests on `route`, on this and every later connection. Returns a function that removes it. */
  handle(route: number, handler: RpcHandler): () => void {
    return this.#register(this.#options.handlers, route, handler, (muxer) => muxer.handle(route, handler));
  }

  /** Handles one-way messages on `route`, on this and every later connection. Returns a function that removes it. */
  handleOneway(route: number, handler: OnewayHandler): () => void {
    return this.#register(this.#options.onewayHandlers, route, handler, (muxer) => muxer.handleOneway(route, handler));
  }

  /** {@link Muxer.rpc} on the live connection; while down, fails with `unavailable` or waits in the queue. */
  rpc(route: number, data: Uint8Array, options: RpcOptions = {}): Promise<Uint8Array> {
    // One budget for the wait and the call: the call's own timeout, or the muxer's default.
    return this.#call("rpc", route, data, (muxer, timeout) => muxer.rpc(route, data, timeout ? { ...options, timeout } : options), options.timeout ?? this.#options.timeout ?? TIMEOUT, options.signal);
  }

  /** {@link Muxer.send} on the live connection; while down, fails with `unavailable` or waits in the queue. */
  send(route: number, data: Uint8Array): Promise<void> {
    return this.#call("send", route, data, (muxer) => muxer.send(route, data));
  }

  /** Resolves when the client has closed for good: closed by the application, or out of attempts. */
  wait(): Promise<CloseInfo> {
    return this.#ended;
  }

  /** Closes the live connection and stops reconnecting. Pending and waiting calls reject with `closed`. */
  close(code = 1000, reason = ""): void {
    if (this.#error) return;
    this.#end(code, reason);
    this.#current?.close(code, reason);
  }

  /**
   * Keeps `handler` for every connection from now on, and gives it to the live one
   * through `attach`, which returns the muxer's remover. Removing it takes it from
   * whichever connection is live then, which after a reconnect is not the one it
   * was first given to.
   */
  #register<H>(routes: Record<number, H>, route: number, handler: H, attach: (muxer: Muxer) => () => void): () => void {
    checkRoute(route);
    routes[route] = handler;
    if (this.#current) attach(this.#current);
    return () => {
      if (routes[route] !== handler) return;
      delete routes[route];
      // The muxer's remover only removes the handler it was made for: attaching it
      // again and removing it at once takes it off the live connection, and only it.
      if (this.#current) attach(this.#current)();
    };
  }

  /**
   * Makes the call on the live connection; while down, queues it (if there is room) for
   * the next one, where it is made with what is left of its `timeout`.
   */
  async #call<T>(kind: string, route: number, data: Uint8Array, call: (muxer: Muxer, timeout?: number) => Promise<T>, timeout = Infinity, signal?: AbortSignal): Promise<T> {
    if (this.#current) return call(this.#current);
    // What the muxer would refuse at once is refused at once here too, not after a wait.
    checkCall(route, data);
    return call(...(await this.#next(this.#queue, this.#options.queueLimit ?? 0, `${kind} to route ${route}`, checkTimeout(timeout), signal)));
  }

  /**
   * Waits among `waiters` (unless `limit` of them already wait) for the next connection,
   * and resolves to its muxer and the ms left of `timeout`. Rejects once the client closes
   * for good, or, for `what`, after `timeout` ms or when `signal` aborts.
   */
  #next(waiters: Set<Waiter>, limit: number, what = "", timeout = Infinity, signal?: AbortSignal): Promise<[Muxer, number]> {
    // Elapsed time on the monotonic clock, as every deadline in core: a wall-clock step changes nothing.
    const deadline = performance.now() + timeout;
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter: Waiter = {
        handleEvent: (outcome = new BimuxError("aborted", `${what} was aborted`, { cause: signal?.reason })) => {
          const left = deadline - performance.now();
          // Connected just as its time ran out: it stays, for its timer (due now) to reject it.
          if (outcome instanceof Muxer && left <= 0) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          if (signal) unwatch(signal, waiter);
          if (outcome instanceof Muxer) resolve([outcome, left]);
          else reject(outcome);
        },
      };
      if (signal?.aborted) return waiter.handleEvent();
      if (this.#error) return reject(this.#error);
      if (waiters.size >= limit) return reject(new BimuxError("unavailable", `${what}: not connected (queueLimit ${limit})`));
      waiters.add(waiter);
      // One listener per signal, however many waiting calls share it.
      if (signal) watch(signal, waiter);
      // Infinity is no timer: setTimeout would take it for 1 ms.
      if (timeout < Infinity) {
        timer = setTimeout(() => waiter.handleEvent(new BimuxError("timeout", `${what} timed out after ${timeout} ms waiting to reconnect`)), timeout);
      }
    });
  }

  async #run(): Promise<void> {
    const {
      maxAttempts = Infinity,
      // By default, every failure is retried but a refusal of who the client is.
      shouldRetry = (error: BimuxError) => error.code !== "unauthenticated" && error.code !== "permission_denied",
      initialDelay = INITIAL_DELAY,
      maxDelay = MAX_DELAY,
      factor = FACTOR,
      jitter = JITTER,
    } = this.#options;
    for (let attempt = 0, failures = 0; !this.#error; ) {
      let duplex: Duplex | undefined;
      let error: BimuxError | undefined;
      try {
        duplex = await this.#connect(this.#stop.signal, attempt++);
        if (this.#error) return duplex.close(1000, "");
        const opened = performance.now();
        const { code } = await this.#open(duplex).wait();
        const lasted = Math.round(performance.now() - opened);
        // Accepted, then dropped at once: as good as refused, or a kicking server is hammered.
        if (lasted < STABLE_AFTER) error = new BimuxError("unavailable", `connection closed ${lasted} ms after opening (${code})`);
      } catch (thrown) {
        error = BimuxError.from(thrown, "unavailable");
        if (duplex) {
          // Connected, but the muxer refused its options (a route that is not an int32…): that would
          // fail every time. Its reason is the client's.
          duplex.close(1000, "");
          return this.#end(1000, error.rawMessage, error);
        }
      }
      if (this.#error) return;
      if (error) {
        failures++;
        // Refused for who it is: the reason itself is what every waiter is told.
        if (!shouldRetry(error)) return this.#end(1006, error.rawMessage, error, error);
        if (failures >= maxAttempts) return this.#end(1006, `gave up after ${failures} attempts: ${error.rawMessage}`, error);
      } else failures = 0;
      // The backoff; even after a good connection, a little (with jitter) so a restarting server is not stampeded.
      // close() ends it early, through #wake.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const delay = Math.min(maxDelay, initialDelay * factor ** Math.max(0, failures - 1)) * (1 - jitter * Math.random());
      await new Promise<void>((resolve) => (timer = setTimeout((this.#wake = resolve), delay)));
      clearTimeout(timer);
    }
  }

  /** The muxer of a new connection, with the client's handlers, hooks and id; made live unless it closed at once. */
  #open(duplex: Duplex): Muxer {
    const muxer = new Muxer(duplex, {
      ...this.#options,
      // An id set on the live connection (by a handler, say) is the client's id from then on.
      onIdChange: (live) => {
        if (live === this.#current) this.#options.id = live.id;
      },
      onClose: (closed) => {
        // From here on, calls see the client as down, not a closed muxer.
        if (this.#current === closed) {
          this.#current = undefined;
          if (!this.#error) this.#changed();
        }
        this.#options.onClose?.(closed);
      },
    });
    // A close the transport held until open was replayed inside the constructor: not a live connection.
    if (!muxer.closed) {
      this.#current = muxer;
      this.#changed(muxer);
    }
    return muxer;
  }

  /**
   * The state changed (each caller is a change: open from connecting, connecting once the
   * live muxer closed, closed once): tells the application, then, with an `outcome` (the
   * new muxer, or why there will be none), every wait for the next connection.
   */
  #changed(outcome?: Muxer | BimuxError): void {
    try {
      this.#options.onStateChange?.(this.state, this);
    } catch (error) {
      // The application's hook failing must not stop the client in the middle of a transition.
      console.error("bimux: onStateChange failed:", error);
    }
    if (outcome) for (const waiter of [...this.#readies, ...this.#queue]) waiter.handleEvent(outcome);
  }

  /**
   * Closes the client for good, with `code` and `reason`, because of `error` if any;
   * everyone waiting is told `told`, by default that it closed.
   */
  #end(code: number, reason: string, error?: BimuxError, told = new BimuxError("closed", `client closed${reason && `: ${reason}`}`, { cause: error })): void {
    this.#error = told;
    this.#stop.abort(told);
    this.#wake?.();
    this.#changed(told);
    this.#endWith({ code, reason, initiator: "local", error });
  }
}

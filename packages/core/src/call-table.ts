import { BimuxError } from "./errors.js";

/** One outbound call waiting for its reply. */
class PendingCall {
  resolve!: (data: Uint8Array) => void;
  reject!: (error: BimuxError) => void;
  /** The deadline slot the call waits in, if it has a timeout. */
  slot: Set<PendingCall> | undefined;
  onAbort: (() => void) | undefined;

  constructor(
    readonly table: CallTable,
    readonly number: number,
    readonly route: number,
    readonly timeout: number,
    readonly signal: AbortSignal | undefined,
  ) {}
}

// Deadlines: rather than a timer per call (a quarter of the cost of a call under
// load), every call with a timeout waits in a slot of TICK_MS, and one interval
// timer, shared by all connections and running only while some call waits, expires
// the slots that are due. A call times out at most TICK_MS late, never early.
const TICK_MS = 10;
const slots = new Map<number, Set<PendingCall>>();
let ticker: ReturnType<typeof setInterval> | undefined;
let lastTick = 0;
// Calls made close together share a slot: remember the last one to skip the lookup.
let lastDue = 0;
let lastSlot: Set<PendingCall> | undefined;

function schedule(call: PendingCall): void {
  const due = Math.ceil((Date.now() + call.timeout) / TICK_MS);
  // A slot not yet due is never expired, so the cached one is still in the map.
  let slot = due === lastDue ? lastSlot : slots.get(due);
  if (!slot) slots.set(due, (slot = new Set()));
  lastDue = due;
  lastSlot = slot;
  slot.add(call);
  call.slot = slot;
  if (!ticker) {
    lastTick = Math.floor(Date.now() / TICK_MS);
    ticker = setInterval(tick, TICK_MS);
    // In Node, waiting calls must not hold the process open by themselves: their connection does.
    (ticker as { unref?: () => void }).unref?.();
  }
}

function tick(): void {
  const now = Math.floor(Date.now() / TICK_MS);
  // Every slot since the last tick, in case the event loop was held up.
  for (; lastTick <= now; lastTick++) {
    const slot = slots.get(lastTick);
    if (!slot) continue;
    slots.delete(lastTick);
    for (const call of slot) call.table.giveUp(call, "timeout", `timed out after ${call.timeout} ms`);
  }
  if (!slots.size) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

/**
 * Outbound calls by request number, and the numbering itself. Every call leaves
 * the table exactly once, by reply, timeout, abort or `failAll`, and takes its
 * timer and abort listener with it, so nothing is left behind.
 */
export class CallTable {
  // Made on the first call: an idle connection should cost as little as possible.
  #calls: Map<number, PendingCall> | undefined;
  #last = 0;
  #owner: { abandoned(number: number): void };

  /** @param owner told of each call the caller gave up on (timeout or abort), to tell the peer. */
  constructor(owner: { abandoned(number: number): void }) {
    this.#owner = owner;
  }

  /** How many calls are waiting for a reply. */
  get size(): number {
    return this.#calls?.size ?? 0;
  }

  /**
   * The next sequence number. Requests and one-way messages share it, as in the Go
   * original, so the numbers on the wire match its byte for byte. A JS number
   * stays exact for 2^53 messages, which no connection lives to see.
   */
  next(): number {
    return ++this.#last;
  }

  /**
   * Registers call `number` on `route` and returns the promise of its reply.
   * `timeout` is in milliseconds; `Infinity` means none.
   */
  add(number: number, route: number, timeout: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const call = new PendingCall(this, number, route, timeout, signal);
    const reply = new Promise<Uint8Array>((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
    });
    if (timeout !== Infinity) schedule(call);
    if (signal) {
      call.onAbort = () => this.giveUp(call, "aborted", "was aborted", signal.reason);
      signal.addEventListener("abort", call.onAbort, { once: true });
    }
    (this.#calls ??= new Map()).set(number, call);
    return reply;
  }

  /** @internal The caller stopped waiting for `call`: reject it and tell the owner, unless it already settled. */
  giveUp(call: PendingCall, code: "timeout" | "aborted", what: string, cause?: unknown): void {
    const { number, route } = call;
    if (this.fail(number, new BimuxError(code, `rpc #${number} to route ${route} ${what}`, { cause }))) {
      this.#owner.abandoned(number);
    }
  }

  /** Settles call `number` with its reply. Returns false when no such call waits (late or stray reply). */
  resolve(number: number, data: Uint8Array): boolean {
    const call = this.#take(number);
    call?.resolve(data);
    return !!call;
  }

  /** Rejects call `number`. Returns false when no such call waits. */
  fail(number: number, error: BimuxError): boolean {
    const call = this.#take(number);
    call?.reject(error);
    return !!call;
  }

  /** Rejects every waiting call with `error`, at once. */
  failAll(error: BimuxError): void {
    for (const number of [...(this.#calls?.keys() ?? [])]) this.fail(number, error);
  }

  #take(number: number): PendingCall | undefined {
    const call = this.#calls?.get(number);
    if (call) {
      this.#calls!.delete(number);
      call.slot?.delete(call);
      if (call.onAbort) call.signal!.removeEventListener("abort", call.onAbort);
    }
    return call;
  }
}

import { BimuxError } from "../errors.js";
import { unwatch, watch } from "./abort-signals.js";
import { NumberTable } from "./number-table.js";
import { startDeadline, stopDeadline, type Deadline } from "./timers.js";

/** One outbound call waiting for its reply. */
class PendingCall implements Deadline {
  // Set by `add` as soon as the call is made, so every call has the same shape: declared,
  // not defined, which costs no code.
  declare resolve: (data: Uint8Array) => void;
  declare reject: (error: BimuxError) => void;
  slot: unknown;
  prev: Deadline | undefined;
  next: Deadline | undefined;

  constructor(
    readonly number: number,
    readonly route: number,
    readonly timeout: number,
    readonly signal: AbortSignal | undefined,
    readonly table: CallTable,
  ) {}

  expire(): void {
    const { number, route, timeout } = this;
    this.table.giveUp(this, "timeout", `rpc #${number} to route ${route} timed out after ${timeout} ms`);
  }

  /** The caller's signal fired: the call is its own listener, so no closure is made per call. */
  handleEvent(): void {
    const { number, route } = this;
    this.table.giveUp(this, "aborted", `rpc #${number} to route ${route} was aborted`, this.signal!.reason);
  }
}

/**
 * Outbound calls by request number, and the numbering itself. Every call leaves
 * the table exactly once, by reply, timeout, abort or `failAll`, and takes its
 * timer and abort listener with it, so nothing is left behind.
 */
export class CallTable {
  // Not a Map: under a call per message its discarded tables chain up and get every call
  // promoted (see NumberTable).
  #calls = new NumberTable<PendingCall>();
  #last = 0;

  /** @param owner told of each call the caller gave up on (timeout or abort), to tell the peer. */
  constructor(readonly owner: { abandoned(number: number): void }) {}

  /** How many calls are waiting for a reply. */
  get size(): number {
    return this.#calls.size;
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
    const call = new PendingCall(number, route, timeout, signal, this);
    const reply = new Promise<Uint8Array>((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
    });
    if (timeout !== Infinity) startDeadline(call);
    // One listener per signal, however many calls share it; the call stops watching when it leaves the table.
    if (signal) watch(signal, call);
    this.#calls.add(call);
    return reply;
  }

  /** @internal The caller stopped waiting for `call`: reject it and tell the owner, unless it already settled. */
  giveUp(call: PendingCall, code: "timeout" | "aborted", message: string, cause?: unknown): void {
    const { number } = call;
    if (this.fail(number, new BimuxError(code, message, { cause }))) {
      this.owner.abandoned(number);
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
    // No code of the application runs until this returns (a rejection is heard later), so
    // nothing can join the table while it is walked.
    for (const call of this.#calls.values()) this.fail(call.number, error);
  }

  #take(number: number): PendingCall | undefined {
    const call = this.#calls.take(number);
    if (call) {
      stopDeadline(call);
      if (call.signal) unwatch(call.signal, call);
    }
    return call;
  }
}

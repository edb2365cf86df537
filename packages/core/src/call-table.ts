import { BimuxError } from "./errors.js";

/** One outbound call waiting for its reply. */
interface PendingCall {
  resolve(data: Uint8Array): void;
  reject(error: BimuxError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Outbound calls by request number, and the numbering itself. Every call leaves
 * the table exactly once, by reply, timeout, abort or `failAll`, and takes its
 * timer and abort listener with it, so nothing is left behind.
 */
export class CallTable {
  private readonly calls = new Map<number, PendingCall>();
  private last = 0;

  /** @param abandoned told of each call the caller gave up on (timeout or abort), to tell the peer. */
  constructor(private readonly abandoned: (number: number) => void = () => {}) {}

  /** How many calls are waiting for a reply. */
  get size(): number {
    return this.calls.size;
  }

  /**
   * The next sequence number. Requests and one-way messages share it, as in the Go
   * original, so the numbers on the wire match its byte for byte. A JS number
   * stays exact for 2^53 messages, which no connection lives to see.
   */
  nextNumber(): number {
    return ++this.last;
  }

  /**
   * Registers call `number` and returns the promise of its reply. `timeout` is in
   * milliseconds; `Infinity` means none. `describe` names the call in errors.
   */
  add(number: number, timeout: number, signal: AbortSignal | undefined, describe: () => string): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const call: PendingCall = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      if (timeout !== Infinity) {
        call.timer = setTimeout(() => {
          if (this.fail(number, new BimuxError("timeout", `${describe()} timed out after ${timeout} ms`))) this.abandoned(number);
        }, timeout);
      }
      if (signal) {
        call.onAbort = () => {
          if (this.fail(number, new BimuxError("aborted", `${describe()} was aborted`, { cause: signal.reason }))) this.abandoned(number);
        };
        signal.addEventListener("abort", call.onAbort, { once: true });
      }
      this.calls.set(number, call);
    });
  }

  /** Settles call `number` with its reply. Returns false when no such call waits (late or stray reply). */
  resolve(number: number, data: Uint8Array): boolean {
    const call = this.take(number);
    if (!call) return false;
    call.resolve(data);
    return true;
  }

  /** Rejects call `number`. Returns false when no such call waits. */
  fail(number: number, error: BimuxError): boolean {
    const call = this.take(number);
    if (!call) return false;
    call.reject(error);
    return true;
  }

  /** Rejects every waiting call with `error`, at once. */
  failAll(error: BimuxError): void {
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const call of calls) {
      release(call);
      call.reject(error);
    }
  }

  private take(number: number): PendingCall | undefined {
    const call = this.calls.get(number);
    if (call) {
      this.calls.delete(number);
      release(call);
    }
    return call;
  }
}

function release(call: PendingCall): void {
  if (call.timer !== undefined) clearTimeout(call.timer);
  if (call.onAbort) call.signal?.removeEventListener("abort", call.onAbort);
}

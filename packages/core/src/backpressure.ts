import { BimuxError } from "./errors.js";
import type { Duplex } from "./duplex.js";

/**
 * Backpressure between the muxer and its transport. Every write goes to the
 * transport at once, in order, so nothing waits in a second buffer; what the
 * transport holds is the signal. Past `highWaterMark` buffered bytes, senders are
 * given a promise of the drain to wait on; past `highWaterMark + maxQueuedBytes`,
 * writes fail with `overloaded` rather than grow memory without bound.
 */
export class Backpressure {
  #waiting: Array<{ resolve(): void; reject(error: BimuxError): void }> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #duplex: Duplex;
  #highWaterMark: number;
  #limit: number;

  constructor(duplex: Duplex, highWaterMark: number, maxQueuedBytes: number) {
    this.#duplex = duplex;
    this.#highWaterMark = highWaterMark;
    this.#limit = highWaterMark + maxQueuedBytes;
  }

  /**
   * Hands `bytes` to the transport, or throws `overloaded` when it already holds
   * more than the limit, unless it is a `control` frame (cancel, ping, pong): those
   * are tiny and must not be lost behind a slow reader's data.
   */
  write(bytes: Uint8Array, control?: boolean): void {
    if (!control && this.#duplex.bufferedAmount > this.#limit) {
      throw new BimuxError("overloaded", "send buffer full: the peer reads too slowly");
    }
    this.#duplex.send(bytes);
  }

  /** Undefined while the transport is below the high-water mark, else a promise of when it is. */
  drained(): Promise<void> | undefined {
    if (this.#duplex.bufferedAmount <= this.#highWaterMark) return;
    return new Promise((resolve, reject) => {
      (this.#waiting ??= []).push({ resolve, reject });
      this.#poll();
    });
  }

  /** Fails every sender still waiting: the connection is gone, and what it buffered with it. */
  fail(error: BimuxError): void {
    clearTimeout(this.#timer);
    for (const waiter of this.#waiting?.splice(0) ?? []) waiter.reject(error);
  }

  // Browsers have no drain event, so a full transport is looked at again shortly.
  #poll(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      if (this.#duplex.bufferedAmount > this.#highWaterMark) this.#poll();
      else for (const waiter of this.#waiting!.splice(0)) waiter.resolve();
    }, 2);
  }
}

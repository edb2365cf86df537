import { BimuxError } from "../errors.js";
import type { Duplex } from "../transport/duplex.js";

/**
 * Backpressure between the muxer and its transport. Every write goes to the
 * transport at once, in order, so nothing waits in a second buffer; what the
 * transport holds is the signal. Past `highWaterMark` buffered bytes, senders are
 * given a promise of the drain to wait on; past `highWaterMark + maxQueuedBytes`,
 * writes fail with `overloaded` rather than grow memory without bound.
 */
export class Backpressure {
  // One drain for every sender waiting on it (as the muxer's settled promise is shared
  // when there is nothing to wait for), and what fails it.
  #drain: Promise<void> | undefined;
  #reject: ((error: BimuxError) => void) | undefined;
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
      throw new BimuxError("overloaded", `send buffer full: the peer reads too slowly`);
    }
    this.#duplex.send(bytes);
  }

  /** Undefined while the transport is below the high-water mark, else a promise of when it is. */
  drained(): Promise<void> | undefined {
    if (this.#duplex.bufferedAmount > this.#highWaterMark) {
      return (this.#drain ??= new Promise((resolve, reject) => {
        this.#reject = reject;
        // Browsers have no drain event, so a full transport is looked at again shortly.
        const poll = () => {
          this.#timer = setTimeout(() => {
            if (this.#duplex.bufferedAmount > this.#highWaterMark) return poll();
            this.#drain = undefined;
            resolve();
          }, 2);
        };
        poll();
      }));
    }
  }

  /** Fails every sender still waiting: the connection is gone, and what it buffered with it. */
  fail(error: BimuxError): void {
    clearTimeout(this.#timer);
    this.#reject?.(error);
  }
}

import { BimuxError } from "../errors.js";
import type { Duplex } from "../transport/duplex.js";

/**
 * Backpressure between the muxer and its transport. Every write goes to the
 * transport at once, in order, so nothing waits in a second buffer; what the
 * transport holds is the signal, charged at its real cost: its bytes plus a
 * per-frame overhead for each frame it holds (a queued frame's buffer and write
 * request weigh far more than a small frame's bytes). Past `highWaterMark`, senders
 * are given a promise of the drain to wait on; past `highWaterMark + maxQueuedBytes`,
 * every write fails with `overloaded` (control frames too: a peer that provokes pongs
 * and never reads them is a slow reader like any other) rather than grow memory
 * without bound.
 */
export class Backpressure {
  // One drain for every sender waiting on it (as the muxer's settled promise is shared
  // when there is nothing to wait for), and what fails it.
  #drain: Promise<void> | undefined;
  #reject: ((error: BimuxError) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #duplex: Duplex;
  #highWaterMark: number;
  /** What the transport may hold, in bytes, before writes fail: `highWaterMark + maxQueuedBytes`. */
  readonly limit: number;
  #frameOverhead: number;
  // The transport's count of frames sent at the last check, and whether its queue moved since.
  #lastSent = -1;

  constructor(duplex: Duplex, highWaterMark: number, maxQueuedBytes: number, frameOverhead: number) {
    this.#duplex = duplex;
    this.#highWaterMark = highWaterMark;
    this.limit = highWaterMark + maxQueuedBytes;
    this.#frameOverhead = frameOverhead;
  }

  /** What the transport holds, in bytes: its buffered bytes and each queued frame's overhead. */
  get cost(): number {
    const duplex = this.#duplex;
    return duplex.bufferedAmount + (duplex.queuedFrames ?? 0) * this.#frameOverhead;
  }

  /** Hands `bytes` to the transport, or throws `overloaded` when it already holds more than the limit. */
  write(bytes: Uint8Array): void {
    if (this.cost > this.limit) {
      throw new BimuxError("overloaded", `send buffer full: the peer reads too slowly`);
    }
    this.#duplex.send(bytes);
  }

  /**
   * True when frames wait in the transport and none was sent since the last call: the peer
   * is not reading. Asked once a keepalive interval; false for transports that do not count frames.
   */
  stalled(): boolean {
    const { queuedFrames, sentFrames = -1 } = this.#duplex;
    const stuck = !!queuedFrames && sentFrames === this.#lastSent;
    this.#lastSent = sentFrames;
    return stuck;
  }

  /** Undefined while the transport is below the high-water mark, else a promise of when it is. */
  drained(): Promise<void> | undefined {
    if (this.cost > this.#highWaterMark) {
      return (this.#drain ??= new Promise((resolve, reject) => {
        this.#reject = reject;
        // Browsers have no drain event, so a full transport is looked at again shortly.
        const poll = () => {
          this.#timer = setTimeout(() => {
            if (this.cost > this.#highWaterMark) return poll();
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

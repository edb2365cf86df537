import { BimuxError } from "./errors.js";
import type { Duplex } from "./duplex.js";

interface QueuedWrite {
  bytes: Uint8Array;
  resolve(): void;
  reject(error: BimuxError): void;
}

/**
 * Backpressure between the muxer and its transport. Writes go straight through
 * while the transport has at most `highWaterMark` bytes buffered; beyond that
 * they wait here, in order, and their promises resolve once they are handed on.
 * Waiting bytes are capped at `maxQueuedBytes`: past that, a write fails with
 * `overloaded` instead of growing memory without bound.
 */
export class WriteQueue {
  #waiting: QueuedWrite[] | undefined;
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #duplex: Duplex;
  #highWaterMark: number;
  #maxQueuedBytes: number;

  constructor(duplex: Duplex, highWaterMark: number, maxQueuedBytes: number) {
    this.#duplex = duplex;
    this.#highWaterMark = highWaterMark;
    this.#maxQueuedBytes = maxQueuedBytes;
  }

  /** Bytes waiting here, not yet handed to the transport. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /**
   * Hands `bytes` to the transport now, or queues them. Returns undefined when
   * they went straight through, else a promise of when they do.
   * Throws `overloaded` when the queue is full, unless it is a `control` frame
   * (cancel, ping, pong): those are tiny and must not be lost behind waiting data.
   */
  write(bytes: Uint8Array, control?: boolean): Promise<void> | undefined {
    if (!this.#waiting?.length && this.#duplex.bufferedAmount <= this.#highWaterMark) {
      this.#duplex.send(bytes);
      return;
    }
    if (!control && this.#bytes + bytes.length > this.#maxQueuedBytes) {
      throw new BimuxError("overloaded", `send queue full: the peer reads too slowly`);
    }
    return new Promise<void>((resolve, reject) => {
      (this.#waiting ??= []).push({ bytes, resolve, reject });
      this.#bytes += bytes.length;
      this.#schedule();
    });
  }

  /** Fails every waiting write: the connection is gone. */
  fail(error: BimuxError): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#bytes = 0;
    for (const write of this.#waiting?.splice(0) ?? []) write.reject(error);
  }

  // Browsers have no drain event, so a blocked queue looks at the buffer again shortly.
  #schedule(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      const waiting = this.#waiting!;
      while (waiting.length && this.#duplex.bufferedAmount <= this.#highWaterMark) {
        const write = waiting.shift()!;
        this.#bytes -= write.bytes.length;
        try {
          this.#duplex.send(write.bytes);
          write.resolve();
        } catch (error) {
          write.reject(BimuxError.from(error, "closed"));
        }
      }
      if (waiting.length) this.#schedule();
    }, 2);
  }
}

import { BimuxError } from "./errors.js";
import type { Duplex } from "./duplex.js";

interface QueuedWrite {
  bytes: Uint8Array;
  resolve(): void;
  reject(error: BimuxError): void;
}

/** How often a blocked queue looks at the transport's buffer again. Browsers have no drain event. */
const POLL_MS = 2;

/**
 * Backpressure between the muxer and its transport. Writes go straight through
 * while the transport has at most `highWaterMark` bytes buffered; beyond that
 * they wait here, in order, and their promises resolve once they are handed on.
 * Waiting bytes are capped at `maxQueuedBytes`: past that, a write fails with
 * `overloaded` instead of growing memory without bound.
 */
export class WriteQueue {
  private readonly waiting: QueuedWrite[] = [];
  private waitingBytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly duplex: Duplex,
    private readonly highWaterMark: number,
    private readonly maxQueuedBytes: number,
  ) {}

  /** Bytes waiting here, not yet handed to the transport. */
  get queuedBytes(): number {
    return this.waitingBytes;
  }

  /**
   * Hands `bytes` to the transport now, or queues them. Returns undefined when
   * they went straight through, else a promise of when they do.
   * Throws `overloaded` when the queue is full, unless it is a `control` frame
   * (cancel, ping, pong): those are tiny and must not be lost behind waiting data.
   */
  write(bytes: Uint8Array, control = false): Promise<void> | undefined {
    if (this.waiting.length === 0 && this.duplex.bufferedAmount <= this.highWaterMark) {
      this.duplex.send(bytes);
      return undefined;
    }
    if (!control && this.waitingBytes + bytes.length > this.maxQueuedBytes) {
      throw new BimuxError(
        "overloaded",
        `send queue full: ${this.waitingBytes} bytes wait behind ${this.duplex.bufferedAmount} buffered (limit ${this.maxQueuedBytes}); the peer is not reading fast enough`,
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ bytes, resolve, reject });
      this.waitingBytes += bytes.length;
      this.schedule();
    });
  }

  /** Fails every waiting write: the connection is gone. */
  fail(error: BimuxError): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const waiting = this.waiting.splice(0);
    this.waitingBytes = 0;
    for (const write of waiting) write.reject(error);
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, POLL_MS);
  }

  private flush(): void {
    while (this.waiting.length > 0 && this.duplex.bufferedAmount <= this.highWaterMark) {
      const write = this.waiting.shift()!;
      this.waitingBytes -= write.bytes.length;
      try {
        this.duplex.send(write.bytes);
        write.resolve();
      } catch (error) {
        write.reject(BimuxError.from(error, "closed"));
      }
    }
    if (this.waiting.length > 0) this.schedule();
  }
}

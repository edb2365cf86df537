import type { Muxer } from "@bimux/core";

/**
 * New connections, handed out one each to whoever iterates (the Go original's
 * `connections` channel). It holds only live muxers: one that closes before
 * anyone takes it is dropped, so an unread queue never grows past the live set.
 */
export class ConnectionQueue implements AsyncIterable<Muxer> {
  private readonly ready: Muxer[] = [];
  private readonly takers: Array<(result: IteratorResult<Muxer>) => void> = [];
  private ended = false;

  /** @internal */
  push(muxer: Muxer): void {
    if (this.ended) return;
    const taker = this.takers.shift();
    if (taker) taker({ value: muxer, done: false });
    else this.ready.push(muxer);
  }

  /** @internal */
  drop(muxer: Muxer): void {
    const index = this.ready.indexOf(muxer);
    if (index >= 0) this.ready.splice(index, 1);
  }

  /** @internal Ends every iteration: the server is closing. */
  end(): void {
    this.ended = true;
    this.ready.length = 0;
    for (const taker of this.takers.splice(0)) taker({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<Muxer> {
    // This iteration's waiting takers: an iteration that stops must not take the next connections.
    const waiting = new Set<(result: IteratorResult<Muxer>) => void>();
    return {
      next: () => {
        const muxer = this.ready.shift();
        if (muxer) return Promise.resolve({ value: muxer, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          const taker = (result: IteratorResult<Muxer>) => {
            waiting.delete(taker);
            resolve(result);
          };
          waiting.add(taker);
          this.takers.push(taker);
        });
      },
      return: () => {
        for (const taker of [...waiting]) {
          const index = this.takers.indexOf(taker);
          if (index >= 0) this.takers.splice(index, 1);
          taker({ value: undefined, done: true });
        }
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

import { join, leave, type Ticking } from "./timers.js";

/** What a {@link Keepalive} works for. */
export interface KeepaliveOwner {
  /** Asks the peer for a sign of life; returns false when the transport cannot. */
  probe(): boolean;
  /** The peer failed to answer a probe in time. Called once. */
  lost(): void;
  /** True when what we sent has not moved since the last tick: a peer that talks but does not read is not alive. */
  stalled(): boolean;
  /** True while we stopped reading on purpose (handlers at their limit): the silence is ours, not the peer's. */
  holding(): boolean;
}

/**
 * Notices a peer that has gone silent. Any traffic from the peer counts as a sign
 * of life; after a silent interval it probes, and if the next interval is silent
 * too the peer is declared dead. So a vanished peer is found within two to three
 * intervals, with no timer per message (see `timers.ts` for how it is woken).
 */
export class Keepalive implements Ticking {
  #heard = true;
  #probed: boolean | undefined;
  #owner: KeepaliveOwner;
  // Set by `join`, which the constructor calls.
  declare timer: unknown;

  /** @param interval milliseconds between checks */
  constructor(interval: number, owner: KeepaliveOwner) {
    this.#owner = owner;
    join(interval, this);
  }

  /** The peer showed a sign of life. Called for every message, so it only sets a flag. */
  heard(): void {
    this.#heard = true;
  }

  stop(): void {
    leave(this);
  }

  tick(): void {
    // Asked every tick, so that "since the last tick" holds.
    const stalled = this.#owner.stalled();
    if ((this.#heard || this.#owner.holding()) && !stalled) {
      this.#heard = this.#probed = false;
    } else if (!this.#probed) {
      this.#probed = this.#owner.probe();
    } else {
      this.stop();
      this.#owner.lost();
    }
  }
}

/** What a {@link Keepalive} works for. */
export interface KeepaliveOwner {
  /** Asks the peer for a sign of life; returns false when the transport cannot. */
  probe(): boolean;
  /** The peer failed to answer a probe in time. Called once. */
  lost(): void;
}

/**
 * Notices a peer that has gone silent. Any traffic from the peer counts as a sign
 * of life; after a silent interval it probes, and if the next interval is silent
 * too the peer is declared dead. So a vanished peer is found within two to three
 * intervals, with no timer per message, and no timer per connection either: all
 * the connections with the same interval share one (a server may hold 10,000).
 */
export class Keepalive {
  #heard = true;
  #probed = false;
  #interval: number;
  #owner: KeepaliveOwner;

  /** @param interval milliseconds between checks */
  constructor(interval: number, owner: KeepaliveOwner) {
    this.#interval = interval;
    this.#owner = owner;
    let ticker = tickers.get(interval);
    if (!ticker) {
      const members = new Set<Keepalive>();
      const timer = setInterval(() => {
        for (const member of members) member.#tick();
      }, interval);
      // In Node, keepalives alone must not hold the process open.
      (timer as { unref?: () => void }).unref?.();
      tickers.set(interval, (ticker = { timer, members }));
    }
    ticker.members.add(this);
  }

  /** The peer showed a sign of life. Called for every message, so it only sets a flag. */
  heard(): void {
    this.#heard = true;
  }

  stop(): void {
    const ticker = tickers.get(this.#interval);
    if (ticker?.members.delete(this) && !ticker.members.size) {
      clearInterval(ticker.timer);
      tickers.delete(this.#interval);
    }
  }

  #tick(): void {
    if (this.#heard) {
      this.#heard = this.#probed = false;
    } else if (!this.#probed) {
      this.#probed = this.#owner.probe();
    } else {
      this.stop();
      this.#owner.lost();
    }
  }
}

/** One interval timer per interval length, and the keepalives it drives. */
const tickers = new Map<number, { timer: ReturnType<typeof setInterval>; members: Set<Keepalive> }>();

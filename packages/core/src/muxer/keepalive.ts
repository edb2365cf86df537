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
 * intervals, with no timer per message: one interval per connection (Node keeps the
 * timers of one duration in one list, so a server's 10,000 keepalives cost one list entry each).
 */
export class Keepalive {
  #heard = true;
  #probed: boolean | undefined;
  #timer: ReturnType<typeof setInterval>;
  #owner: KeepaliveOwner;

  /** @param interval milliseconds between checks */
  constructor(interval: number, owner: KeepaliveOwner) {
    this.#owner = owner;
    // A shared function and this keepalive as its argument: no closure per connection.
    this.#timer = setInterval(Keepalive.#fire, interval, this);
    // In Node, keepalives alone must not hold the process open.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** The peer showed a sign of life. Called for every message, so it only sets a flag. */
  heard(): void {
    this.#heard = true;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  static #fire(keepalive: Keepalive): void {
    keepalive.#tick();
  }

  #tick(): void {
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

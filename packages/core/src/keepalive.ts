/**
 * Notices a peer that has gone silent. Any traffic from the peer counts as a sign
 * of life; after a silent interval it probes, and if the next interval is silent
 * too the peer is declared dead. So a vanished peer is found within two to three
 * intervals, with no timer per message: one interval timer per connection.
 */
export class Keepalive {
  #timer: ReturnType<typeof setInterval>;
  #heard = true;
  #probed = false;

  /**
   * @param interval milliseconds between checks
   * @param probe asks the peer for a sign of life; returns false when the transport cannot
   * @param dead called once when the peer failed to answer a probe in time
   */
  constructor(interval: number, probe: () => boolean, dead: () => void) {
    this.#timer = setInterval(() => {
      if (this.#heard) {
        this.#heard = this.#probed = false;
      } else if (!this.#probed) {
        this.#probed = probe();
      } else {
        this.stop();
        dead();
      }
    }, interval);
    // In Node, a keepalive alone must not hold the process open.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** The peer showed a sign of life. Called for every message, so it only sets a flag. */
  heard(): void {
    this.#heard = true;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

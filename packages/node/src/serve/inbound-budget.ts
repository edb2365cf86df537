import type { Duplex as NodeStream } from "node:stream";
import type WebSocket from "ws";
import type { InboundObserver } from "../ws-duplex.js";

/**
 * One connection's unfinished inbound message, as the budget sees it; the connection's
 * duplex tells it of whole messages, pongs, errors and the close (see `InboundObserver`).
 */
class Holder implements InboundObserver {
  /** Bytes received since its last whole message: what the WebSocket parser holds for it. */
  partial = 0;
  /** The most it held since its last whole message, and when that grew last (monotonic clock). */
  peak = 0;
  progressed = 0;
  closing = false;

  constructor(
    readonly budget: InboundBudget,
    /** Closes the connection with a code and says why. */
    readonly close: (code: number, reason: string) => void,
  ) {}

  message(): void {
    this.budget.settle(this, 0);
  }

  // A control frame read whole is held no more: its header (2 bytes, and 4 of mask from a client) and payload.
  control(bytes: number): void {
    this.budget.settle(this, Math.max(0, this.partial - bytes - 6));
  }

  error(): void {
    this.budget.give(this);
  }

  closed(): void {
    this.budget.closed(this);
  }
}

// A connection's holder, found from the stream or socket a listener is called on: the two
// listeners below are shared by every connection, rather than closures made for each (a
// server holds tens of thousands of idle ones).
const holders = new WeakMap<object, Holder>();

function onData(this: NodeStream, chunk: Buffer): void {
  const holder = holders.get(this);
  if (holder) holder.budget.received(holder, chunk.length);
}

// The duplex does not listen to pings (ws answers them itself): the budget does.
function onPing(this: WebSocket, data: Buffer): void {
  holders.get(this)?.control(data.length);
}

/**
 * A server-wide budget for memory held in unfinished inbound messages. Each
 * message is bounded by `maxMessageSize`, but many connections each sending most
 * of one and never the rest hold their sum: past `max` bytes across the server, the
 * connection holding the most is closed (1013, try again later). A message that
 * makes no progress for `stallTimeout` ms is closed too (1008): a peer that stops
 * half-way holds memory for nothing. Pings and pongs between its pieces are no
 * progress; a byte now and then is (it cannot be told from a slow link), and is
 * bounded by `maxMessageSize` and this budget.
 *
 * What a connection holds is counted from outside the WebSocket parser: bytes read
 * from its network stream since its last whole message, less the control frames
 * (pings, pongs) among them. So it is an estimate, exact to within one network read.
 */
export class InboundBudget {
  #total = 0;
  readonly #holders = new Set<Holder>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(
    readonly max: number,
    readonly stallTimeout: number,
    /** Told when a connection is closed for the budget's sake. */
    readonly onLimit: (reason: string, code: number) => void,
  ) {}

  /** Bytes held across the server now. */
  get total(): number {
    return this.#total;
  }

  /**
   * Counts what `ws`, read from `stream`, holds; `close` ends the connection. Call it once
   * `ws` listens on `stream` (after the upgrade): this budget's listener goes first, so that
   * a read that completes a message is counted before the message resets the count. Returns
   * the observer to give the connection's duplex (`wsDuplex`), which tells it the rest.
   */
  track(ws: WebSocket, stream: NodeStream, close: (code: number, reason: string) => void): InboundObserver {
    const holder = new Holder(this, close);
    holders.set(ws, holder);
    holders.set(stream, holder);
    stream.prependListener("data", onData);
    ws.on("ping", onPing);
    return holder;
  }

  /** @internal `holder`'s connection read `bytes` more from the network. */
  received(holder: Holder, bytes: number): void {
    this.settle(holder, holder.partial + bytes);
    if (this.#total > this.max) this.#evict();
    this.#sweep();
  }

  /** @internal `holder` now holds `partial` bytes of an unfinished message. */
  settle(holder: Holder, partial: number): void {
    // A connection being closed gave its share up: what it still sends is not read for long.
    if (holder.closing) partial = 0;
    // When it started to hold is not noted here: the next sweep notes the growth (peak is 0), and
    // a clock read per network read was a cost of every lone call.
    if (partial === 0) holder.peak = 0;
    this.#total += partial - holder.partial;
    holder.partial = partial;
    // One that holds nothing stays in the set until the next sweep: a connection reading one small
    // message after another would otherwise add itself and leave again (the set's table shrunk and
    // regrown) for every message.
    if (partial > 0) this.#holders.add(holder);
  }

  /** @internal `holder`'s connection closed: it holds nothing, and leaves the set at once. */
  closed(holder: Holder): void {
    this.settle(holder, 0);
    this.#holders.delete(holder);
  }

  /** Closes the connection that holds the most, and gives its memory up at once. */
  #evict(): void {
    let largest: Holder | undefined;
    for (const holder of this.#holders) if (!holder.closing && holder.partial > (largest?.partial ?? 0)) largest = holder;
    if (!largest) return;
    const reason = `unfinished messages over the server's budget of ${this.max} bytes; this connection held ${largest.partial}`;
    this.give(largest);
    largest.close(1013, reason);
    this.onLimit(reason, 1013);
  }

  /** @internal Takes `holder` out of the count: it is being closed. */
  give(holder: Holder): void {
    this.#total -= holder.partial;
    holder.partial = 0;
    holder.closing = true;
    this.#holders.delete(holder);
  }

  /** Runs the stall check while any connection holds a partial message. */
  #sweep(): void {
    if (this.#sweeper || !Number.isFinite(this.stallTimeout)) return;
    this.#sweeper = setInterval(() => {
      const now = performance.now();
      for (const holder of this.#holders) {
        if (!holder.partial) this.#holders.delete(holder);
        // Progress is growth between two sweeps, net of the control frames read meanwhile.
        else if (holder.partial > holder.peak) {
          holder.peak = holder.partial;
          holder.progressed = now;
        } else if (!holder.closing && now - holder.progressed >= this.stallTimeout) {
          this.give(holder);
          const reason = `an unfinished message made no progress for ${this.stallTimeout} ms`;
          holder.close(1008, reason);
          this.onLimit(reason, 1008);
        }
      }
      if (!this.#holders.size) this.stop();
    }, Math.max(10, Math.min(this.stallTimeout / 3, 1000)));
    this.#sweeper.unref();
  }

  /** Stops the stall check (the server is closing, or nothing is held). */
  stop(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}

import type { Duplex, DuplexSink } from "./transport/duplex.js";

/** One end of an in-memory pair, with a way to cut the wire for failure tests. */
export interface MemoryDuplex extends Duplex {
  /** Simulates a lost connection: both ends see code 1006 and nothing more is delivered. */
  drop(): void;
  /** Simulates a peer that vanished without a word: from now on nothing sent either way arrives, and nobody is told. */
  blackhole(): void;
  /** Delivers a text message to the other end, as a misbehaving peer might. */
  sendText(text: string): void;
}

/**
 * Two connected in-memory {@link Duplex} ends, for tests: what one sends the other
 * receives, whole, in order, asynchronously (as over a network) and as a copy.
 */
export function createDuplexPair(options: { protocol?: string } = {}): [MemoryDuplex, MemoryDuplex] {
  const a = new MemoryEnd(options.protocol ?? "");
  const b = new MemoryEnd(options.protocol ?? "");
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class MemoryEnd implements MemoryDuplex {
  peer!: MemoryEnd;
  readonly bufferedAmount = 0;
  private sink: DuplexSink | undefined;
  private open_ = true;
  private ended = false;
  // Events that arrived before `open` was called wait here.
  private early: Array<() => void> = [];
  private silent = false;

  /** @param protocol what both ends report as the negotiated subprotocol */
  constructor(readonly protocol: string) {}

  open(sink: DuplexSink): void {
    this.sink = sink;
    for (const event of this.early.splice(0)) event();
  }

  send(packet: Uint8Array): void {
    if (!this.open_) throw new Error("memory duplex is closed");
    if (this.silent) return;
    const copy = packet.slice();
    this.peer.deliver(() => this.peer.sink?.message(copy));
  }

  sendText(text: string): void {
    if (!this.open_) throw new Error("memory duplex is closed");
    if (this.silent) return;
    this.peer.deliver(() => this.peer.sink?.message(text));
  }

  close(code: number, reason: string): void {
    if (!this.open_) return;
    this.open_ = false;
    if (this.silent) {
      // The close frame is lost too: only this end learns of the close.
      this.deliver(() => this.end(code, reason));
      return;
    }
    this.peer.open_ = false;
    // Like a WebSocket close handshake: the peer hears of it after what was already sent.
    this.peer.deliver(() => this.peer.end(code, reason));
    this.deliver(() => this.end(code, reason));
  }

  blackhole(): void {
    this.silent = true;
    this.peer.silent = true;
  }

  terminate(): void {
    this.drop();
  }

  drop(): void {
    this.open_ = false;
    this.end(1006, "");
    if (this.silent) return;
    this.peer.open_ = false;
    this.peer.end(1006, "");
  }

  private deliver(event: () => void): void {
    queueMicrotask(() => {
      if (this.ended) return;
      if (this.sink) event();
      else this.early.push(event);
    });
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.sink) this.sink.closed(code, reason);
    else this.early.push(() => this.sink?.closed(code, reason));
  }
}

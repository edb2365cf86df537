import type { Duplex as NodeStream } from "node:stream";
import { BimuxError } from "@bimux/core";
import type { Duplex, DuplexSink } from "@bimux/core/transport";
import type WebSocket from "ws";

/** Frames this large go out at once rather than wait for the tick's batch: batching only pays for small ones. */
const BATCH_LIMIT = 16 * 1024;

const DUPLEX = Symbol("bimux.duplex");
type Owned = WebSocket & { [DUPLEX]: WsDuplex };

/**
 * Adapts an open `ws` WebSocket to the core {@link Duplex}: binary messages in
 * and out, close codes as they are, `bufferedAmount` as the backpressure signal,
 * WebSocket ping/pong for keepalive with peers that have no ping message (Go).
 *
 * `protocol` is what the handshake agreed on: the subprotocol by default, or what
 * the bimux extensions header said (see `EXTENSIONS_HEADER`).
 *
 * `stream` is the connection under the WebSocket, as Node's HTTP server or client
 * handed it over in the upgrade (both give it out): where it can be corked, a tick's
 * frames leave in one write. Without it, or on a runtime whose stream cannot cork
 * (Bun, whose upgrade response has no socket), frames are written one by one; Deno's corks.
 *
 * It listens from the moment it is made and holds what arrives until `open`:
 * a server may call the instant the handshake is done, and `ws` can emit that
 * first message before a promise continuation gets to attach a muxer.
 */
export function wsDuplex(socket: WebSocket, protocol: string = socket.protocol, stream?: NodeStream, observer?: InboundObserver): Duplex {
  return new WsDuplex(socket, protocol, stream, observer);
}

/**
 * What else follows a connection's inbound traffic (the server's inbound budget), told by
 * the duplex's own listeners after the duplex: a second listener on each of `ws`'s events
 * would make each event's listeners an array, per connection.
 */
export interface InboundObserver {
  /** A whole message was read. */
  message(): void;
  /** A control frame (a pong; pings the observer hears itself) of `bytes` of payload was read whole. */
  control(bytes: number): void;
  /** `ws` failed the connection: it reads no more of it. */
  error(): void;
  /** The connection closed. */
  closed(): void;
}

// A class with shared listener functions, not closures: a server holds one of
// these per connection, tens of thousands of them.
class WsDuplex implements Duplex {
  readonly protocol: string;
  #socket: WebSocket;
  #sink: DuplexSink | undefined;
  #early: Array<(sink: DuplexSink) => void> | undefined = [];
  #failure: Error | undefined;
  // Corking the connection makes a tick's frames one write.
  #tcp: NodeStream | undefined;
  #corked = false;
  // Whether the frames of this tick (or this uncorked frame) went to an empty stream: see send.
  #clean = false;
  #ended = false;
  #queued = 0;
  #sent = 0;
  // Frames among #queued handed over without a callback: sent once the stream is seen empty.
  #loose = 0;
  // Told by ws when a frame has been written to the network: one function per connection, not per frame.
  #written = (): void => {
    this.#queued--;
    this.#sent++;
  };

  /** @internal */
  readonly observer: InboundObserver | undefined;

  constructor(socket: WebSocket, protocol: string, stream: NodeStream | undefined, observer: InboundObserver | undefined) {
    this.protocol = protocol;
    this.observer = observer;
    this.#socket = socket;
    if (typeof stream?.cork === "function" && typeof stream.uncork === "function") this.#tcp = stream;
    (socket as Owned)[DUPLEX] = this;
    socket.on("message", onMessage);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.on("pong", onPong);
  }

  open(sink: DuplexSink): void {
    this.#sink = sink;
    const held = this.#early ?? [];
    this.#early = undefined;
    for (const event of held) event(sink);
  }

  send(packet: Uint8Array): void {
    // ws drops what is sent on a closing socket without a word; fail the call instead.
    if (this.#socket.readyState !== 1) throw new Error(`WebSocket is not open (readyState ${this.#socket.readyState})`);
    const socket = this.#socket;
    const tcp = this.#tcp;
    this.#queued++;
    if (tcp && !tcp.destroyed) {
      if (packet.length >= BATCH_LIMIT) {
        this.flush();
        this.#clean = socket.bufferedAmount === 0;
      } else if (!this.#corked) {
        // Frames written in the rest of this tick leave in one write: one syscall for many calls.
        this.#clean = socket.bufferedAmount === 0;
        this.#corked = true;
        tcp.cork();
        process.nextTick(flushDuplex, this);
      }
      // A frame written to an empty stream almost always goes out in the same write: it is
      // counted as sent once the stream is seen empty, not by a callback of its own, which
      // would cost Node a nextTick and an object for every write (the lone call's cost, issue 17).
      // Behind frames that wait, each is counted by its callback, so a queue that moves is seen to.
      if (this.#clean) {
        this.#loose++;
        return socket.send(packet);
      }
    }
    socket.send(packet, this.#written);
  }

  get queuedFrames(): number {
    this.#settle();
    return this.#queued;
  }

  get sentFrames(): number {
    this.#settle();
    return this.#sent;
  }

  /** Counts the frames handed over without a callback as sent, once nothing waits in the stream. */
  #settle(): void {
    if (this.#loose && this.#socket.bufferedAmount === 0) {
      this.#queued -= this.#loose;
      this.#sent += this.#loose;
      this.#loose = 0;
    }
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  close(code: number, reason: string): void {
    this.#socket.close(code, reason);
  }

  ping(): void {
    this.#socket.ping();
  }

  terminate(): void {
    this.#socket.terminate();
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  allocate(size: number): Uint8Array {
    return allocate(size);
  }

  /** Writes out what the tick has batched so far. */
  flush(): void {
    if (this.#corked) {
      this.#corked = false;
      this.#tcp?.uncork();
    }
  }

  /** @internal A message arrived: to the sink, or held until there is one. */
  message(data: Uint8Array | string): void {
    if (this.#sink) this.#sink.message(data);
    else this.#early?.push((sink) => sink.message(data));
  }

  /** @internal */
  closed(code: number, reason: string): void {
    // Once: after an error (see fail), ws's own close event comes later, or never.
    if (this.#ended) return;
    this.#ended = true;
    const failure = this.#failure;
    // ws closes an oversized message's connection with 1009 but reports 1006, as it stops reading.
    if (failure instanceof BimuxError && failure.code === "too_large") code = 1009;
    if (this.#sink) this.#sink.closed(code, reason, failure);
    else this.#early?.push((sink) => sink.closed(code, reason, failure));
  }

  /** @internal */
  alive(): void {
    this.#sink?.alive?.();
  }

  /** @internal ws reports protocol and size violations as errors, then closes: the close carries it on. */
  fail(error: Error): void {
    this.#failure ??=
      (error as { code?: string }).code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"
        ? new BimuxError("too_large", error.message, { cause: error })
        : error;
    // ws has sent its close frame (1009, 1002…) and stopped reading, but reports "close" only
    // once the peer ends TCP, which a Go peer never does (its read loop just returns): end now.
    this.closed(1006, "");
  }
}

// Small frames are cut from a shared 64 KiB block, as Node's Buffer pool does: a
// small typed array of its own lives on V8's heap, and ws would have to copy it out
// again before the socket can write it. A block is never reused, only replaced when
// full, so a frame stays intact for as long as anything holds it.
let block = new Uint8Array(0);
let blockUsed = 0;

function allocate(size: number): Uint8Array {
  if (size > 4096) return new Uint8Array(size);
  if (blockUsed + size > block.length) {
    block = new Uint8Array(65536);
    blockUsed = 0;
  }
  const out = block.subarray(blockUsed, blockUsed + size);
  blockUsed += (size + 7) & ~7; // keep each frame 8-byte aligned
  return out;
}

function flushDuplex(duplex: WsDuplex): void {
  duplex.flush();
}

function owner(socket: WebSocket): WsDuplex {
  return (socket as Owned)[DUPLEX];
}

function onMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
  const duplex = owner(this);
  // With the default binaryType a message is one Buffer, which is a Uint8Array.
  duplex.message(isBinary ? (data as Buffer) : data.toString());
  duplex.observer?.message();
}

function onError(this: WebSocket, error: Error): void {
  const duplex = owner(this);
  duplex.fail(error);
  duplex.observer?.error();
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  const duplex = owner(this);
  duplex.closed(code, reason.toString());
  duplex.observer?.closed();
}

function onPong(this: WebSocket, data: Buffer): void {
  const duplex = owner(this);
  duplex.alive();
  duplex.observer?.control(data.length);
}

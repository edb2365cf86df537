import { BimuxError, type Muxer } from "@bimux/core";
import type { Duplex, DuplexSink } from "@bimux/core/transport";
import type { ServerWebSocket } from "bun";

/** Frames this large go out at once rather than wait for the batch: batching only pays for small ones. */
const BATCH_LIMIT = 16 * 1024;

/**
 * What a bimux server keeps in each of its sockets' `ws.data`: its connection, from the
 * upgrade on. The type to name when writing `Bun.serve<BimuxSocketData>(…)` by hand;
 * TypeScript infers it from `websocket` otherwise.
 */
export interface BimuxSocketData {
  /** The connection's muxer, from Bun's `open` on; undefined before. */
  readonly muxer: Muxer | undefined;
}

/**
 * One connection of a Bun server as core's {@link Duplex}, and its socket's `ws.data`:
 * made at the upgrade, with what the handshake decided (the protocol, the peer's id and
 * its request), attached to its `ServerWebSocket` when Bun opens it. One object per
 * connection and no closure: a server holds tens of thousands of them.
 *
 * What it has of the optional members, and why:
 * - `bufferedAmount` is Bun's `getBufferedAmount()`: the bytes Bun queued and the kernel
 *   did not take yet, the muxer's backpressure signal (it looks again until it drains:
 *   Bun's `drain` event needs no handler for that).
 * - `ping` is a WebSocket ping; the pong comes back through the server's `pong` handler as `alive`.
 * - `terminate` drops the TCP connection without a close handshake.
 * - `pause`/`resume` stop and restart reading the socket, so a peer that sends one-way
 *   messages faster than they are handled feels TCP backpressure. Bun's `ServerWebSocket` has
 *   them from 1.4.4 (1.3.14 to 1.4.3 serve bimux but lack them): there, they do nothing, and
 *   one-way messages past `maxConcurrent` wait in memory instead.
 * - No `queuedFrames`/`sentFrames`: Bun tells neither how many messages it queued nor when one
 *   was written (its `send` returns bytes, or -1 for "queued"), so they cannot be counted honestly.
 *   The keepalive then cannot tell a peer that stopped reading from a slow one; `bufferedAmount`
 *   and the muxer's `maxQueuedBytes` still bound what it may hold.
 * - No `allocate`: Bun copies each message into its own send buffer, so pooled frames would save nothing.
 *
 * Small frames are batched: held until the end of the event loop's turn, then sent in one
 * `cork`, so that they leave in one write. Bun writes each `send` made outside its own
 * callbacks at once, one syscall each: a front that makes a call per HTTP request spent half
 * its time in them (bench/seed.mjs, variant bun, profiled). What waits counts in `bufferedAmount`.
 */
export class BunDuplex implements Duplex, BimuxSocketData {
  readonly protocol: string;
  /** The id the authenticate hook gave the peer, if it gave one. */
  readonly id: string | undefined;
  /** The upgrade request, until the connection opens and `onConnection` has seen it. */
  request: Request | undefined;
  muxer: Muxer | undefined;
  #ws: ServerWebSocket<BunDuplex> | undefined;
  #sink: DuplexSink | undefined;
  #ended = false;
  /** Frames held for the batch, and their bytes. */
  #batch: Uint8Array[] = [];
  #batched = 0;

  constructor(protocol: string, id: string | undefined, request: Request) {
    this.protocol = protocol;
    this.id = id;
    this.request = request;
  }

  /** @internal Bun opened the socket: from now on it sends and receives. */
  attach(ws: ServerWebSocket<BunDuplex>): void {
    this.#ws = ws;
  }

  open(sink: DuplexSink): void {
    this.#sink = sink;
  }

  send(packet: Uint8Array): void {
    const ws = this.#ws;
    // Bun drops what is sent on a socket that is not open without a word: fail the write instead.
    if (!ws || ws.readyState !== 1) throw new Error(`WebSocket is not open (readyState ${ws?.readyState ?? 0})`);
    if (packet.length < BATCH_LIMIT) {
      if (this.#batch.push(packet) === 1) later(this);
      this.#batched += packet.length;
      return;
    }
    // In order: what waits in the batch first.
    this.flush();
    // 0 is "dropped": Bun's backpressureLimit was reached. The server sets that limit above the
    // muxer's own (which fails writes first), and closes the connection when it is reached
    // (closeOnBackpressureLimit): a frame lost silently would leave a call without its reply.
    if (ws.sendBinary(packet) === 0) throw new BimuxError("overloaded", "Bun dropped a frame: the socket's backpressure limit was reached");
  }

  /** Sends the batch, in one write. A frame Bun drops here has its connection closed by Bun (see `send`). */
  flush(): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    this.#batched = 0;
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1) return;
    if (batch.length === 1) ws.sendBinary(batch[0]!);
    else ws.cork(() => sendAll(ws, batch));
  }

  get bufferedAmount(): number {
    return (this.#ws?.getBufferedAmount() ?? 0) + this.#batched;
  }

  close(code: number, reason: string): void {
    // What the muxer sent before closing goes before the close frame.
    this.flush();
    this.#ws?.close(code, reason);
  }

  ping(): void {
    this.#ws?.ping();
  }

  terminate(): void {
    this.#ws?.terminate();
  }

  pause(): void {
    this.#ws?.pause?.();
  }

  resume(): void {
    this.#ws?.resume?.();
  }

  /** @internal A whole message arrived (Bun hands binary ones over as a Buffer, which is a Uint8Array). */
  message(data: Uint8Array | string): void {
    this.#sink?.message(data);
  }

  /** @internal The socket closed: Bun calls `close` once, with the code the peer sent or 1006. */
  closed(code: number, reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#sink?.closed(code, reason);
  }

  /** @internal A pong arrived. */
  alive(): void {
    this.#sink?.alive?.();
  }
}

function sendAll(ws: ServerWebSocket<BunDuplex>, batch: readonly Uint8Array[]): void {
  for (const packet of batch) ws.sendBinary(packet);
}

// The connections with a batch to send, flushed once per turn of the event loop (setImmediate
// runs after Bun has handled every socket that was ready): one timer for all of them.
let dirty: BunDuplex[] = [];

function later(duplex: BunDuplex): void {
  if (dirty.push(duplex) === 1) setImmediate(flushAll);
}

function flushAll(): void {
  const now = dirty;
  dirty = [];
  for (const duplex of now) duplex.flush();
}

import { BimuxError, type Muxer } from "@bimux/core";
import type { Duplex, DuplexSink } from "@bimux/core/transport";
import type { ServerWebSocket } from "bun";

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
 * - `pause`/`resume` stop and restart reading the socket (Bun ≥ 1.4), so a peer that sends
 *   one-way messages faster than they are handled feels TCP backpressure.
 * - No `queuedFrames`/`sentFrames`: Bun tells neither how many messages it queued nor when one
 *   was written (its `send` returns bytes, or -1 for "queued"), so they cannot be counted honestly.
 *   The keepalive then cannot tell a peer that stopped reading from a slow one; `bufferedAmount`
 *   and the muxer's `maxQueuedBytes` still bound what it may hold.
 * - No `allocate`: Bun copies each message into its own send buffer, so pooled frames would save nothing.
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
    // 0 is "dropped": Bun's backpressureLimit was reached. The server sets that limit above the
    // muxer's own (which fails writes first), and closes the connection when it is reached
    // (closeOnBackpressureLimit): a frame lost silently would leave a call without its reply.
    if (ws.sendBinary(packet) === 0) throw new BimuxError("overloaded", "Bun dropped a frame: the socket's backpressure limit was reached");
  }

  get bufferedAmount(): number {
    return this.#ws?.getBufferedAmount() ?? 0;
  }

  close(code: number, reason: string): void {
    this.#ws?.close(code, reason);
  }

  ping(): void {
    this.#ws?.ping();
  }

  terminate(): void {
    this.#ws?.terminate();
  }

  pause(): void {
    this.#ws?.pause();
  }

  resume(): void {
    this.#ws?.resume();
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

/**
 * What a {@link Duplex} reports to the one consumer it is opened with (the Muxer).
 */
export interface DuplexSink {
  /**
   * A whole message arrived. Binary messages arrive as bytes; a text message
   * arrives as a string so the consumer can reject it (bimux speaks binary only).
   */
  message(data: Uint8Array | string): void;
  /**
   * The connection ended, whoever ended it. Called once; nothing arrives after.
   * `error` is what the transport blamed, if anything: a `BimuxError` keeps its code
   * (`too_large` for a message over the transport's size limit, say), anything else
   * counts as `unavailable`.
   */
  closed(code: number, reason: string, error?: unknown): void;
  /** The transport heard from the peer below the message level (a WebSocket pong). */
  alive?(): void;
}

/**
 * A message-oriented, bidirectional connection: the only thing core needs from a
 * transport. A WebSocket is one; an in-memory pair is another (see `@bimux/core/testing`).
 *
 * Implementations must deliver messages whole and in order, and report `closed` exactly once.
 */
export interface Duplex {
  /** Starts delivering events to `sink`. Called once, before any `send`. */
  open(sink: DuplexSink): void;
  /** Queues one whole binary message. Throws if the connection is not open. */
  send(packet: Uint8Array): void;
  /**
   * Starts a close handshake with a WebSocket close code (RFC 6455 §7.4) and a
   * reason of at most 123 UTF-8 bytes. `closed` follows, once.
   */
  close(code: number, reason: string): void;
  /** Bytes queued by `send` but not yet handed to the network: the backpressure signal. */
  readonly bufferedAmount: number;
  /**
   * The WebSocket subprotocol both ends agreed on during the handshake ("" for none).
   * bimux uses it to learn which protocol extensions the peer understands.
   */
  readonly protocol?: string;
  /** Sends a transport-level probe the peer answers by itself (a WebSocket ping), if the transport has one. */
  ping?(): void;
  /** Drops the connection at once, without a close handshake, if the transport can. */
  terminate?(): void;
  /**
   * Memory for an outbound frame of `size` bytes, if the transport wants to pool it
   * (Node's sockets write views of one large block more cheaply than many small arrays).
   * What it returns must stay unchanged until it has been sent.
   */
  allocate?(size: number): Uint8Array;
  /**
   * Frames handed to `send` and not yet written to the network, if the transport
   * counts them. Each costs memory beyond its bytes (its buffer, its write request),
   * so the muxer's budget charges a per-frame overhead for it ({@link DEFAULTS}`.frameOverhead`).
   */
  readonly queuedFrames?: number;
  /** Frames written to the network so far, if the transport counts them: a queue that does not move is a peer that does not read. */
  readonly sentFrames?: number;
  /** Stops reading from the network (TCP backpressure), if the transport can; `resume` reads again. */
  pause?(): void;
  /** Reads from the network again after `pause`. */
  resume?(): void;
}

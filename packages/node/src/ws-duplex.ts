import type { Socket } from "node:net";
import type { Duplex, DuplexSink } from "@bimux/core";
import type WebSocket from "ws";

/**
 * The HTTP header a Node client offers the bimux extensions with, and a bimux-ts
 * server accepts them with. Node's `ws` refuses a handshake in which the server
 * picks no subprotocol it was offered, so a subprotocol offer would cost a failed
 * handshake against every Go server; an unknown header costs nothing. (Browsers
 * cannot set headers, and use the subprotocol, which they may be refused.)
 */
export const EXTENSIONS_HEADER = "x-bimux-extensions";

/**
 * Adapts an open `ws` WebSocket to the core {@link Duplex}: binary messages in
 * and out, close codes as they are, `bufferedAmount` as the backpressure signal,
 * WebSocket ping/pong for keepalive with peers that have no ping message (Go).
 *
 * `protocol` is what the handshake agreed on: the subprotocol by default, or what
 * the bimux extensions header said (see {@link EXTENSIONS_HEADER}).
 *
 * It listens from the moment it is made and holds what arrives until `open`:
 * a server may call the instant the handshake is done, and `ws` can emit that
 * first message before a promise continuation gets to attach a muxer.
 */
export function wsDuplex(socket: WebSocket, protocol: string = socket.protocol): Duplex {
  let sink: DuplexSink | undefined;
  let early: Array<(sink: DuplexSink) => void> | undefined = [];
  let failure: Error | undefined;
  const emit = (event: (sink: DuplexSink) => void): void => {
    if (sink) event(sink);
    else early?.push(event);
  };
  socket.on("message", (data, isBinary) => {
    // With the default binaryType a message is one Buffer, which is a Uint8Array.
    const message = isBinary ? (data as Buffer) : data.toString();
    emit((s) => s.message(message));
  });
  // ws reports protocol and size violations here, then closes; the close carries it on.
  socket.on("error", (error) => (failure ??= error));
  socket.on("close", (code, reason) => emit((s) => s.closed(code, reason.toString(), failure)));
  socket.on("pong", () => emit((s) => s.alive?.()));

  // Frames written in one tick leave in one write: under load that is one syscall
  // for many calls instead of one each. ws keeps its TCP socket in `_socket`.
  const tcp = (socket as unknown as { _socket?: Socket })._socket;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    tcp?.uncork();
  };

  return {
    open(target) {
      sink = target;
      const held = early ?? [];
      early = undefined;
      for (const event of held) event(target);
    },
    send(packet) {
      if (!corked && tcp && !tcp.destroyed) {
        corked = true;
        tcp.cork();
        process.nextTick(uncork);
      }
      socket.send(packet);
    },
    close(code, reason) {
      socket.close(code, reason);
    },
    ping() {
      socket.ping();
    },
    terminate() {
      socket.terminate();
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    protocol,
  };
}

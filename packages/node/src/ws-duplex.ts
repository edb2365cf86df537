import type { Socket } from "node:net";
import type { Duplex, DuplexSink } from "@bimux/core";
import type WebSocket from "ws";

/**
 * Adapts an open `ws` WebSocket to the core {@link Duplex}: binary messages in
 * and out, close codes as they are, `bufferedAmount` as the backpressure signal,
 * WebSocket ping/pong for keepalive with peers that have no ping message (Go).
 *
 * It listens from the moment it is made and holds what arrives until `open`:
 * a server may call the instant the handshake is done, and `ws` can emit that
 * first message before a promise continuation gets to attach a muxer.
 */
export function wsDuplex(socket: WebSocket): Duplex {
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
    get protocol() {
      return socket.protocol;
    },
  };
}

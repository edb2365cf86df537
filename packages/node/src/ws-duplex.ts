import type { Duplex } from "@bimux/core";
import type WebSocket from "ws";

/**
 * Adapts an open `ws` WebSocket to the core {@link Duplex}: binary messages in
 * and out, close codes as they are, `bufferedAmount` as the backpressure signal,
 * WebSocket ping/pong for keepalive with peers that have no ping message (Go).
 */
export function wsDuplex(socket: WebSocket): Duplex {
  return {
    open(sink) {
      let failure: Error | undefined;
      socket.on("message", (data, isBinary) => {
        // With the default binaryType a message is one Buffer, which is a Uint8Array.
        sink.message(isBinary ? (data as Buffer) : data.toString());
      });
      // ws reports protocol and size violations here, then closes; the close carries it on.
      socket.on("error", (error) => (failure ??= error));
      socket.on("close", (code, reason) => sink.closed(code, reason.toString(), failure));
      socket.on("pong", () => sink.alive?.());
    },
    send(packet) {
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

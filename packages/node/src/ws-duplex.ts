import type { Duplex } from "@bimux/core";
import type WebSocket from "ws";

/**
 * Adapts an open `ws` WebSocket to the core {@link Duplex}: binary messages in
 * and out, close codes as they are, `bufferedAmount` as the backpressure signal.
 */
export function wsDuplex(socket: WebSocket): Duplex {
  return {
    open(sink) {
      socket.on("message", (data, isBinary) => {
        // With the default binaryType a message is one Buffer, which is a Uint8Array.
        sink.message(isBinary ? (data as Buffer) : data.toString());
      });
      socket.on("close", (code, reason) => sink.closed(code, reason.toString()));
      // ws reports socket errors here and then closes; the close event carries the outcome.
      socket.on("error", () => {});
    },
    send(packet) {
      socket.send(packet);
    },
    close(code, reason) {
      socket.close(code, reason);
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    get protocol() {
      return socket.protocol;
    },
  };
}

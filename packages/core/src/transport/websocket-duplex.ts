import type { Duplex, DuplexSink } from "./duplex.js";
import { closeCode, type WebSocketLike } from "./websocket.js";

/**
 * Adapts an open W3C `WebSocket` (a browser's, Deno's, Bun's, or any
 * {@link WebSocketLike}) to the core {@link Duplex}: binary messages as `Uint8Array`,
 * text as strings (the muxer refuses them), close code and reason.
 *
 * It listens from the moment it is made and holds what arrives until `open`, so
 * the muxer misses nothing between the socket opening and taking it over.
 *
 * The W3C API lets a script send only close code 1000 or 3000–4999: a muxer closing
 * with one of the protocol's codes (1002 protocol error, 1009 too big, …) where the
 * socket refuses it is sent as 4000 plus its last three digits (4002 for 1002), which
 * keeps its meaning.
 */
export function webSocketDuplex(ws: WebSocketLike): Duplex {
  // Browsers default to Blob, which is read asynchronously; other sockets may hand out bytes already.
  if (ws.binaryType === "blob") ws.binaryType = "arraybuffer";
  let sink: DuplexSink | undefined;
  // What arrives before `open`, handed on then: message and close events, told apart by the code.
  type Received = { readonly data: unknown } | { readonly code: number; readonly reason: string };
  const early: Received[] = [];
  const deliver = (event: Received) => {
    if (!sink) early.push(event);
    else if ("code" in event) sink.closed(closeCode(event.code), event.reason);
    else {
      const { data } = event;
      sink.message(typeof data === "string" ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array));
    }
  };
  ws.onmessage = ws.onclose = deliver;
  return {
    open(target) {
      sink = target;
      early.splice(0).forEach(deliver);
    },
    send(packet) {
      // A closing socket drops what is sent without a word; fail the call instead.
      if (ws.readyState !== 1) throw new Error(`WebSocket is not open (readyState ${ws.readyState})`);
      ws.send(packet);
    },
    close(code, reason) {
      try {
        ws.close(code, reason);
      } catch {
        // The W3C API refuses the protocol's codes from a script (InvalidAccessError): their 4xxx twin.
        ws.close(code > 1000 && code < 1016 ? code + 3000 : 1000, reason);
      }
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    get protocol() {
      return ws.protocol;
    },
  };
}

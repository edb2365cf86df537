import type { Duplex, DuplexSink } from "@bimux/core";
import { text } from "@bimux/core/internal";

/**
 * Adapts an open browser `WebSocket` to the core {@link Duplex}: binary messages
 * as `Uint8Array`, text as strings (the muxer refuses them), close code and reason.
 *
 * It listens from the moment it is made and holds what arrives until `open`, so
 * the muxer misses nothing between the socket opening and taking it over.
 *
 * Browsers may only send close code 1000 or 3000–4999: a muxer closing with one of
 * the protocol's codes (1001 going away, 1002 protocol error, 1003 unsupported data,
 * …) is sent as 4000 plus its last three digits (4002 for 1002), which keeps its meaning.
 */
export function webSocketDuplex(ws: WebSocket): Duplex {
  ws.binaryType = "arraybuffer";
  let sink: DuplexSink | undefined;
  // What arrives before `open`, handed on then: message and close events, told apart by the code.
  type Received = { data: string | ArrayBuffer } | { code: number; reason: string };
  const early: Received[] = [];
  const deliver = (event: Received) => {
    if (!sink) early.push(event);
    else if ("code" in event) sink.closed(event.code, event.reason);
    else sink.message(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
  };
  ws.onmessage = ws.onclose = deliver;
  return {
    open(target) {
      sink = target;
      early.splice(0).forEach(deliver);
    },
    send(packet) {
      // Browsers drop what is sent on a closing socket without a word; fail the call instead.
      if (ws.readyState !== 1) throw new Error(text`WebSocket is not open (readyState ${ws.readyState})`);
      ws.send(packet);
    },
    close(code, reason) {
      ws.close(code > 1000 && code < 1016 ? code + 3000 : code, reason);
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    get protocol() {
      return ws.protocol;
    },
  };
}

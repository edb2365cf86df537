import type { Duplex, DuplexSink } from "@bimux/core";

/** `WebSocket.OPEN`, spelled out so the module needs no global to load. */
const OPEN = 1;

/**
 * Adapts a browser `WebSocket` to the core {@link Duplex}: binary messages as
 * `Uint8Array`, text messages as strings (the muxer rejects them), close events
 * with their code and reason, `bufferedAmount` as the backpressure signal.
 *
 * Pass a socket that is open or still connecting. Listening starts here, not at
 * `open`: whatever arrives before the muxer takes the duplex waits for it, so no
 * message is lost however late the muxer is made.
 *
 * Browsers only let a page close with 1000 or 3000–4999. A standard code the muxer
 * closes with (1001 going away, 1002 protocol error, 1003 unsupported data, …)
 * is sent as 4000 + its last three digits instead, so the peer still learns why.
 */
export function webSocketDuplex(ws: WebSocket): Duplex {
  ws.binaryType = "arraybuffer";
  let sink: DuplexSink | undefined;
  const early: Array<(sink: DuplexSink) => void> = [];

  ws.addEventListener("message", (event) => {
    const data: unknown = event.data;
    const message = typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer);
    if (sink) sink.message(message);
    else early.push((s) => s.message(message));
  });
  ws.addEventListener("close", (event) => {
    const { code, reason } = event;
    if (sink) sink.closed(code, reason);
    else early.push((s) => s.closed(code, reason));
  });

  return {
    open(s) {
      sink = s;
      for (const event of early.splice(0)) event(s);
    },
    send(packet) {
      // A closing browser socket drops sends silently; the Duplex contract wants a throw.
      if (ws.readyState !== OPEN) throw new Error(`WebSocket is not open (readyState ${ws.readyState})`);
      ws.send(packet);
    },
    close(code, reason) {
      try {
        ws.close(pageCloseCode(code), reason);
      } catch (error) {
        // Never leave the socket open because of a bad code or reason: close plainly, then report.
        ws.close();
        throw error;
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

/** Maps a close code a page may not send (1001–1015) into the private range a page may. */
function pageCloseCode(code: number): number {
  return code > 1000 && code < 1016 ? code + 3000 : code;
}

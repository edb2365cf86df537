import { EXTENSIONS_PROTOCOL, Muxer, type BimuxError, type Duplex, type MuxerOptions } from "@bimux/core";
import { openWebSocket } from "./open.js";

/** Options of {@link dial}: the hooks of the muxer, and how to connect. */
export interface DialOptions extends MuxerOptions {
  /** WebSocket subprotocols to offer the server, in order of preference. */
  protocols?: string[];
  /** Aborting it gives up connecting. */
  signal?: AbortSignal;
  /** Give up connecting after this many milliseconds; `Infinity` for no limit. Default 10 000. */
  handshakeTimeout?: number;
  /**
   * Offer the bimux-ts extensions (cancel, keepalive pings, request timeouts) after
   * `protocols`. Default true. A server that does not take them (the Go original)
   * answers with no subprotocol, which makes the browser fail that handshake: dial
   * then connects once more offering only `protocols`, and does so directly for a minute.
   */
  extensions?: boolean;
}

/**
 * Connects to a bimux server from a page (the Go `WsDial`) and resolves to the
 * muxer once the WebSocket is open. The hooks and handlers serve the server's
 * calls to the page. Rejects with code `unavailable` when the connection cannot
 * be made, `aborted` when `signal` fires first.
 */
export async function dial(url: string, options: DialOptions = {}): Promise<Muxer> {
  const duplex = await opener(url, options)(options.signal);
  try {
    // The muxer reads only its own options, as with the Node dial, which passes them the same way.
    return new Muxer(duplex, options);
  } catch (error) {
    // Bad muxer options (a route that is not an int32…): do not leave the socket open behind the error.
    duplex.close(1000, ""); // normal closure
    throw error;
  }
}

// Servers that took none of the subprotocols offered, by URL, until when: dials there in the
// meantime offer only the page's own. Not for good: a page cannot tell that answer from a
// server that was down for a moment (both close 1006), and a bimux-ts server would lose its extensions:
// a minute. For a URL not in it, `undefined > Date.now()` is false: the offer goes out.
const plain = new Map<string, number>();

/** The function that opens one WebSocket to `url` as `options` say, for a dial or every redial. */
export function opener(url: string, options: DialOptions): (signal?: AbortSignal) => Promise<Duplex> {
  const { protocols = [], handshakeTimeout, extensions = true } = options;
  const offer = extensions && !protocols.includes(EXTENSIONS_PROTOCOL) ? [...protocols, EXTENSIONS_PROTOCOL] : protocols;
  const open = (offered: string[], signal?: AbortSignal) => openWebSocket(url, { protocols: offered, signal, timeout: handshakeTimeout });
  return (signal) =>
    offer === protocols || plain.get(url)! > Date.now()
      ? open(protocols, signal)
      : open(offer, signal).catch(async (error: BimuxError) => {
          // A server that picks no subprotocol (the Go original) makes the browser fail the handshake
          // it had answered with 101: the socket closes, 1006, before it opens. Once more without ours.
          // Only that failure has cause 1006 (an abort whose reason is 1006 would fail the retry with
          // the same error, the signal staying aborted).
          if (error.cause !== 1006) throw error;
          const duplex = await open(protocols, signal);
          plain.set(url, Date.now() + 60_000);
          return duplex;
        });
}

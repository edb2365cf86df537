import type { Agent } from "node:http";
import type { Duplex as NodeStream } from "node:stream";
import type { Muxer, ReconnectingMuxer } from "@bimux/core";
import {
  DEFAULTS,
  EXTENSIONS_HEADER,
  EXTENSIONS_PROTOCOL,
  dialReconnectingWith,
  dialWith,
  upgradeRefused,
  type DialOptions as CoreDialOptions,
  type DialTarget,
  type ReconnectingDialOptions as CoreReconnectingDialOptions,
  type WebSocketTransport,
} from "@bimux/core/transport";
import WebSocket from "ws";
import { wsDuplex } from "./ws-duplex.js";

/**
 * How a Node client reaches a server: the TLS and HTTP options of Node's
 * `https.request`, as `ws` takes them, and headers for the upgrade request.
 */
export interface NodeConnectOptions {
  /** Extra headers on the upgrade request (for example `authorization`). */
  headers?: Record<string, string>;
  /** Certificate authorities to trust, in place of Node's: for a server with a private CA. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** A client certificate, for servers that ask for one (mutual TLS); with `key`. */
  cert?: string | Buffer | Array<string | Buffer>;
  /** The client certificate's private key. */
  key?: string | Buffer | Array<string | Buffer>;
  /** The passphrase of `key`. */
  passphrase?: string;
  /** Check the server's certificate. Default true; turning it off trusts anyone on the path. */
  rejectUnauthorized?: boolean;
  /** The server name for SNI and the certificate check, when the URL's host is not it. */
  servername?: string;
  /** The HTTP(S) agent to connect through (a proxy agent, say). */
  agent?: Agent;
}

/** Options of {@link dial}: the muxer's hooks and settings, how to connect, and TLS. */
export interface DialOptions extends CoreDialOptions, NodeConnectOptions {}

/** Options of {@link dialReconnecting}: those of {@link dial}, the retry policy, and a state hook. */
export interface ReconnectingDialOptions extends CoreReconnectingDialOptions, NodeConnectOptions {}

/** A WebSocket refused before it opened: the server's answer. */
interface Refusal {
  /** The HTTP status the server answered the upgrade with. */
  status: number;
  /** The body of the answer, cut short: the server's reason. */
  message: string;
}

/** What a client socket learned in its handshake. */
interface Handshake {
  /** The server answered the extensions header. */
  extensions: boolean;
  /** The connection under the socket, for corking. */
  stream?: NodeStream;
  /** The server's answer, when it refused the upgrade. */
  refused?: Refusal;
}

const handshakes = new WeakMap<WebSocket, Handshake>();

/** Longest part of a refusal's body kept as its message. */
const REFUSAL_BODY = 512;

/**
 * Node's sockets, from `ws`: the extensions offered in a header (see negotiation in
 * `@bimux/core`), why an upgrade was refused read from the server's answer, and the
 * open socket adapted by {@link wsDuplex}, the server's adapter, which answers pings,
 * pools small frames and corks the connection.
 */
const transport: WebSocketTransport<WebSocket> = {
  offersExtensions: true,
  create(url, protocols, options: DialOptions) {
    const { headers, extensions = true, maxMessageSize = DEFAULTS.maxMessageSize, ca, cert, key, passphrase, rejectUnauthorized, servername, agent } = options;
    const ws = new WebSocket(url, protocols, {
      headers: extensions ? { ...headers, [EXTENSIONS_HEADER]: EXTENSIONS_PROTOCOL } : headers,
      maxPayload: maxMessageSize,
      perMessageDeflate: false,
      ...defined({ ca, cert, key, passphrase, rejectUnauthorized, servername, agent }),
    });
    const handshake: Handshake = { extensions: false };
    handshakes.set(ws, handshake);
    ws.on("upgrade", (response) => {
      handshake.extensions = extensions && response.headers[EXTENSIONS_HEADER] === EXTENSIONS_PROTOCOL;
      // Bun's `ws` hands over a response without a socket (null), and its ws._socket cannot cork:
      // frames go out one by one there. Deno's has a socket that corks. (See wsDuplex.)
      handshake.stream = response.socket ?? undefined;
    });
    // Listening for it keeps ws from failing at once: the status and the server's reason are read first.
    ws.on("unexpected-response", (_request, response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        if (body.length < REFUSAL_BODY) body += chunk;
      });
      const end = () => {
        handshake.refused ??= { status: response.statusCode ?? 0, message: body.slice(0, REFUSAL_BODY).trim() };
        ws.terminate();
      };
      response.on("end", end);
      response.on("error", end);
    });
    return ws;
  },
  refused(ws, url) {
    const refused = handshakes.get(ws)?.refused;
    return refused && upgradeRefused(url, refused.status, refused.message);
  },
  duplex(ws) {
    const handshake = handshakes.get(ws);
    return wsDuplex(ws, handshake?.extensions ? EXTENSIONS_PROTOCOL : ws.protocol, handshake?.stream);
  },
};

/** `options` without its undefined entries: `ws` passes them on to Node's TLS, where `undefined` is not "unset" for every option. */
function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * Connects to a bimux server (the Go `WsDial`) and resolves to the muxer once the
 * WebSocket is open. The hooks serve the server's calls to this side.
 *
 * Rejects with a `BimuxError`: `unavailable` when the connection cannot be made or the
 * handshake takes longer than `handshakeTimeout` (default 10 s); `unauthenticated` (401),
 * `permission_denied` (403) or `already_exists` (409) with the HTTP `status` when the server
 * refused the upgrade; `aborted` when `signal` fires first.
 */
export function dial(url: string, options: DialOptions = {}): Promise<Muxer> {
  return dialWith(url, options, transport);
}

/**
 * Connects like {@link dial}, then stays connected: after every drop it dials again,
 * with exponential backoff and jitter, keeping its handlers and id. `url` may list
 * several servers, tried in turn, or be a function giving the URL of each attempt.
 * A refusal with 401 or 403 stops it (see `shouldRetry`). The same call as in
 * `@bimux/browser`.
 */
export function dialReconnecting(url: DialTarget, options: ReconnectingDialOptions = {}): Promise<ReconnectingMuxer> {
  return dialReconnectingWith(url, options, transport);
}

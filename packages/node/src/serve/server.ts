import { createServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex as NodeStream } from "node:stream";
import { BimuxError, CloseCode, Muxer, type MuxerOptions } from "@bimux/core";
import { DEFAULTS, EXTENSIONS_HEADER, EXTENSIONS_PROTOCOL, acceptExtensions, checkTimeout } from "@bimux/core/transport";
import WebSocket, { WebSocketServer } from "ws";
import { ConnectionQueue } from "../connection-queue.js";
import { wsDuplex } from "../ws-duplex.js";
import { PeerRegistry } from "./peer-registry.js";
import { destroySelf, judge, refuseUpgrade, type Authenticate, type OriginPolicy } from "./upgrade-gate.js";
import { route } from "./upgrade-router.js";

/** Options of {@link serve}: where to listen, who may connect, and the hooks each connection's muxer gets. */
export interface ServeOptions extends Omit<MuxerOptions, "id" | "onError"> {
  /**
   * Called when something fails that no caller is waiting on: a one-way handler
   * threw (with its muxer), or the authentication hook threw (without). Default: `console.error`.
   */
  onError?: (error: BimuxError, muxer: Muxer | undefined) => void;
  /** Port to listen on; 0 picks a free one. Ignored when `server` is given. */
  port?: number;
  /** Address to listen on. Default: Node's (every interface). Use "127.0.0.1" for local only. */
  host?: string;
  /**
   * Attach to this existing HTTP(S) server instead of listening. Its other routes keep
   * working, and several bimux servers may share it on different paths.
   */
  server?: HttpServer | HttpsServer;
  /** Only upgrades to this path are taken (the Go `uri`). Default: any path. */
  path?: string;
  /** Called with each new connection's muxer and the upgrade request. */
  onConnection?: (muxer: Muxer, request: IncomingMessage) => void;
  /** Checks each upgrade request before a WebSocket exists (401/403 otherwise). Default: everyone may connect. */
  authenticate?: Authenticate;
  /** Milliseconds `authenticate` may take before the upgrade is answered 503. Default 10 000. */
  authenticateTimeout?: number;
  /** Which browser origins may connect. Default `"same-origin"`. */
  origins?: OriginPolicy;
  /** Take the bimux-ts extensions when a client offers them. Default true. */
  extensions?: boolean;
}

/** A running bimux server (the Go `WsServe`). */
export interface BimuxServer {
  /** The port the server is bound to. */
  readonly port: number;
  /** Each new connection's muxer, once, to whoever iterates (the Go `connections` channel). */
  readonly connections: AsyncIterable<Muxer>;
  /** Live connections by id. */
  readonly peers: PeerRegistry;
  /**
   * Stops accepting, closes every connection with 1001 (their pending calls reject),
   * and stops listening. Attached to an existing HTTP server, it leaves that server
   * running: close bimux first, then the HTTP server.
   */
  close(): Promise<void>;
}

/**
 * Starts a bimux server (the Go `WsServe`): every WebSocket that connects on
 * `path` gets a {@link Muxer} with the given hooks, so the server can call the
 * peer as soon as it has it, and the peer can call the server.
 *
 * Its parts: the upgrade router (which bimux server of an HTTP server owns a path),
 * the upgrade gate (origin, authenticate), the peer registry, and this function's
 * lifecycle: listen, accept, close.
 */
export async function serve(options: ServeOptions = {}): Promise<BimuxServer> {
  const {
    port,
    host,
    server: existing,
    path,
    onConnection,
    authenticate,
    authenticateTimeout = DEFAULTS.handshakeTimeout,
    origins = "same-origin",
    extensions = true,
    ...muxerOptions
  } = options;
  // Refuse what every connection's muxer would refuse, now rather than at each upgrade.
  if (muxerOptions.timeout !== undefined) checkTimeout(muxerOptions.timeout);
  if (muxerOptions.keepalive) checkTimeout(muxerOptions.keepalive.interval ?? DEFAULTS.keepaliveInterval, "keepalive.interval");
  checkTimeout(authenticateTimeout, "authenticateTimeout");
  const report = (error: BimuxError, muxer?: Muxer): void => {
    if (muxerOptions.onError) muxerOptions.onError(error, muxer);
    else console.error(`bimux: ${error.message}`);
  };
  const http =
    existing ??
    createServer((_req, res) => {
      res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
      res.end("bimux: this endpoint speaks WebSocket only\n");
    });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: muxerOptions.maxMessageSize ?? DEFAULTS.maxMessageSize,
    perMessageDeflate: false,
    // Browsers offer the extensions as a subprotocol, Node clients in a header (see negotiation in core).
    handleProtocols: (offered, request) => (acceptExtensions(extensions, offered, request.headers[EXTENSIONS_HEADER]).subprotocol ? EXTENSIONS_PROTOCOL : false),
  });
  const headerAccepted = (request: IncomingMessage) => acceptExtensions(extensions, new Set(), request.headers[EXTENSIONS_HEADER]).header;
  wss.on("headers", (headers, request) => {
    if (headerAccepted(request)) headers.push(`${EXTENSIONS_HEADER}: ${EXTENSIONS_PROTOCOL}`);
  });
  // A registry listener's throw is reported as any other failure no caller waits on.
  const peers = new PeerRegistry((error) => report(BimuxError.from(error, "internal")));
  const connections = new ConnectionQueue();
  let nextPeer = 0;
  // One options object for every connection's muxer: per-connection copies and
  // closures add up over tens of thousands of idle connections.
  const shared: MuxerOptions = {
    ...muxerOptions,
    onIdChange: (muxer, previous) => {
      if (peers.rename(muxer, previous)) muxerOptions.onIdChange?.(muxer, previous);
    },
    onClose: (muxer) => {
      peers.remove(muxer);
      connections.drop(muxer);
      muxerOptions.onClose?.(muxer);
    },
  };
  let closing: Promise<void> | undefined;
  // Upgrades waiting for the authenticate hook: not yet WebSockets, so only we can end them on close.
  const deciding = new Set<NodeStream>();

  const onUpgrade = (request: IncomingMessage, socket: NodeStream, head: Buffer): void => {
    if (closing) return refuseUpgrade(socket, 503);
    // The socket may fail while we wait for the gate's verdict. (A listener made here
    // would keep this scope, request and head included, for the connection's whole
    // life: hence one shared function, removed again.)
    socket.on("error", destroySelf);
    deciding.add(socket);
    judge(request, { authenticate, authenticateTimeout, origins }).then(
      (verdict) => {
        deciding.delete(socket);
        if (socket.destroyed) return;
        if (!verdict.accept) return refuseUpgrade(socket, verdict.status, verdict.message || verdict.reason);
        if (closing) return refuseUpgrade(socket, 503);
        socket.off("error", destroySelf);
        wss.handleUpgrade(request, socket, head, (ws) => accept(ws, request, socket, verdict.id));
      },
      (error: unknown) => {
        deciding.delete(socket);
        report(BimuxError.from(error, "internal"));
        refuseUpgrade(socket, 500);
      },
    );
  };

  const accept = (ws: WebSocket, request: IncomingMessage, socket: NodeStream, id: string | undefined): void => {
    let muxer: Muxer;
    try {
      muxer = new Muxer(wsDuplex(ws, headerAccepted(request) ? EXTENSIONS_PROTOCOL : ws.protocol, socket), shared);
    } catch (error) {
      // Options no muxer can take (a handler on a route that is not an int32…): no connection can be served.
      ws.close(CloseCode.internalError, "server misconfigured");
      report(BimuxError.from(error, "internal"));
      return;
    }
    muxer.id = id ?? `peer-${++nextPeer}`;
    peers.add(muxer);
    connections.push(muxer);
    try {
      onConnection?.(muxer, request);
    } catch (error) {
      muxer.close(CloseCode.internalError, "connection handler failed");
      report(BimuxError.from(error, "internal"), muxer);
    }
  };

  const unroute = route(http, path, onUpgrade);
  if (!existing) {
    try {
      await new Promise<void>((resolve, reject) => {
        http.once("error", reject);
        http.listen(port ?? 0, host, () => {
          http.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      unroute();
      throw error;
    }
  }

  const close = async (): Promise<void> => {
    // First let `closing` be set: an onClose hook calling close() again must get this same promise.
    await undefined;
    unroute();
    for (const socket of deciding) socket.destroy();
    deciding.clear();
    connections.end();
    for (const muxer of [...peers]) muxer.close(CloseCode.goingAway, "server closing");
    await settleSockets(wss.clients);
    wss.close();
    if (!existing) {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    }
  };

  return {
    get port() {
      return (http.address() as AddressInfo | null)?.port ?? 0;
    },
    connections,
    peers,
    close: () => (closing ??= close()),
  };
}

/** Waits for closing sockets to finish their handshake, then cuts off the stragglers. */
async function settleSockets(sockets: ReadonlySet<WebSocket>): Promise<void> {
  if (sockets.size === 0) return;
  const all = Promise.all([...sockets].map((ws) => new Promise<void>((resolve) => ws.once("close", () => resolve()))));
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, DEFAULTS.closeGrace)));
  await Promise.race([all, grace]);
  clearTimeout(timer);
  for (const ws of sockets) ws.terminate();
}

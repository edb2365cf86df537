import { createServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex as NodeStream } from "node:stream";
import { BimuxError, CloseCode, Muxer, type MuxerOptions } from "@bimux/core";
import { DEFAULTS, EXTENSIONS_HEADER, EXTENSIONS_PROTOCOL, PeerRegistry, acceptsHeader, acceptsSubprotocol, checkTimeout, type DuplicateIdPolicy } from "@bimux/core/transport";
import WebSocket, { WebSocketServer } from "ws";
import { ConnectionQueue } from "../connection-queue.js";
import { wsDuplex } from "../ws-duplex.js";
import { InboundBudget } from "./inbound-budget.js";
import { destroySelf, judge, refuseUpgrade, type Authenticate, type OriginPolicy } from "./upgrade-gate.js";
import { route } from "./upgrade-router.js";
import { track, untrack } from "./peer-info.js";
import { logRefusal } from "../log.js";

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
  /** What a connection taking the id of a live one gets. Default `"refuse"`: see {@link DuplicateIdPolicy}. */
  duplicateIds?: DuplicateIdPolicy;
  /**
   * Bytes of unfinished inbound messages the server holds across all connections; past it,
   * the connection holding the most is closed with 1013. Default 32 MiB.
   */
  maxInboundBytes?: number;
  /**
   * Milliseconds an unfinished inbound message may go without progress (pings and pongs are
   * none) before its connection is closed with 1008: a stalled message holds memory for nothing. Default 30 000.
   */
  partialMessageTimeout?: number;
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
    authenticateTimeout = DEFAULTS.authenticateTimeout,
    origins = "same-origin",
    extensions = true,
    duplicateIds = "refuse",
    maxInboundBytes = DEFAULTS.maxInboundBytes,
    partialMessageTimeout = DEFAULTS.partialMessageTimeout,
    ...muxerOptions
  } = options;
  // Refuse what every connection's muxer would refuse, now rather than at each upgrade.
  if (muxerOptions.timeout !== undefined) checkTimeout(muxerOptions.timeout);
  if (muxerOptions.keepalive) checkTimeout(muxerOptions.keepalive.interval ?? DEFAULTS.keepaliveInterval, "keepalive.interval");
  checkTimeout(authenticateTimeout, "authenticateTimeout");
  const stallTimeout = checkTimeout(partialMessageTimeout, "partialMessageTimeout");
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
    handleProtocols: (offered) => (acceptsSubprotocol(extensions, offered) ? EXTENSIONS_PROTOCOL : false),
  });
  const headerAccepted = (request: IncomingMessage) => acceptsHeader(extensions, request.headers[EXTENSIONS_HEADER]);
  wss.on("headers", (headers, request) => {
    if (headerAccepted(request)) headers.push(`${EXTENSIONS_HEADER}: ${EXTENSIONS_PROTOCOL}`);
  });
  // A registry listener's throw is reported as any other failure no caller waits on.
  const peers = new PeerRegistry(duplicateIds, (error) => report(BimuxError.from(error, "internal")));
  const budget = new InboundBudget(maxInboundBytes, stallTimeout, (reason, code) =>
    report(new BimuxError(code === 1008 ? "timeout" : "overloaded", reason)),
  );
  const connections = new ConnectionQueue();
  // One options object for every connection's muxer: per-connection copies and
  // closures add up over tens of thousands of idle connections.
  const shared: MuxerOptions = peers.following(muxerOptions, (muxer) => {
    untrack(peers, muxer);
    connections.drop(muxer);
  });
  let closing: Promise<void> | undefined;
  // Upgrades waiting for the authenticate hook: not yet WebSockets, so only we can end them on close.
  const deciding = new Set<NodeStream>();

  const onUpgrade = (request: IncomingMessage, socket: NodeStream, head: Buffer): void => {
    // Upgrades waiting for a verdict hold a socket and the hook's work each: bounded, as connections are.
    if (closing || deciding.size >= DEFAULTS.maxPendingUpgrades) return refuseUpgrade(socket, 503);
    // The socket may fail while we wait for the gate's verdict. (A listener made here
    // would keep this scope, request and head included, for the connection's whole
    // life: hence one shared function, removed again.)
    socket.on("error", destroySelf);
    deciding.add(socket);
    // The hook hears of a client that went away, if it has work to stop: the socket is read
    // meanwhile to notice its end, and what a client sends early goes on after the upgrade's head.
    const gone = new AbortController();
    const early: Buffer[] = [];
    let earlyBytes = 0;
    const closed = () => gone.abort();
    const read = (chunk: Buffer) => {
      early.push(chunk);
      // A client that talks before it is let in is not waiting for a verdict: no buffering for it.
      if ((earlyBytes += chunk.length) > EARLY_LIMIT) socket.destroy();
    };
    // Not paused: the socket flows on to ws's own listener, which the upgrade adds in the same tick.
    const stopReading = () => void socket.off("data", read).off("end", closed).off("close", closed);
    socket.on("data", read).once("end", closed).once("close", closed);
    judge(request, { authenticate, authenticateTimeout, origins, signal: gone.signal }).then(
      (verdict) => {
        stopReading();
        deciding.delete(socket);
        if (socket.destroyed) return;
        if (!verdict.accept) {
          logRefusal(request, verdict.status, verdict.reason);
          // The body says only what the application chose to say: the reason (a hook's verdict, say) is for the logs.
          return refuseUpgrade(socket, verdict.status, verdict.message);
        }
        if (closing) return refuseUpgrade(socket, 503);
        // An id vouched for by authenticate that a live connection has: refused before any WebSocket exists.
        if (verdict.id !== undefined && !peers.available(verdict.id)) return refuseUpgrade(socket, 409, `id ${JSON.stringify(verdict.id)} is in use`);
        socket.off("error", destroySelf);
        const start = early.length ? Buffer.concat([head, ...early]) : head;
        wss.handleUpgrade(request, socket, start, (ws) => accept(ws, request, socket, verdict.id));
      },
      (error: unknown) => {
        stopReading();
        deciding.delete(socket);
        report(BimuxError.from(error, "internal"));
        refuseUpgrade(socket, 500);
      },
    );
  };

  const accept = (ws: WebSocket, request: IncomingMessage, socket: NodeStream, id: string | undefined): void => {
    let muxer: Muxer | undefined;
    const observer = budget.track(ws, socket, (code, reason) => {
      muxer?.close(code, reason);
      // The close frame is on its way: its unfinished message goes now, with no close handshake to wait for.
      socket.pause();
      setImmediate(() => ws.terminate());
    });
    try {
      muxer = new Muxer(wsDuplex(ws, headerAccepted(request) ? EXTENSIONS_PROTOCOL : ws.protocol, socket, observer), shared);
    } catch (error) {
      // Options no muxer can take (a handler on a route that is not an int32…): no connection can be served.
      ws.close(CloseCode.internalError, "server misconfigured");
      report(BimuxError.from(error, "internal"));
      return;
    }
    muxer.id = peers.idFor(id);
    // Another connection took this id between the gate and now: the registry closed this one.
    if (!peers.add(muxer)) return;
    track(peers, muxer, ws, request);
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
    budget.stop();
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

/** Bytes a client may send before its upgrade is decided: a few frames at most. */
const EARLY_LIMIT = 64 * 1024;

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

import { createServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex as NodeStream } from "node:stream";
import { BimuxError, CloseCode, Muxer, type MuxerOptions } from "@bimux/core";
import WebSocket, { WebSocketServer } from "ws";
import { ConnectionQueue } from "./connection-queue.js";
import { PeerRegistry } from "./peers.js";
import { wsDuplex } from "./ws-duplex.js";

/** Options of {@link serve}: where to listen, and the hooks each connection's muxer gets. */
export interface ServeOptions extends Omit<MuxerOptions, "id"> {
  /** Port to listen on; 0 picks a free one. Ignored when `server` is given. */
  port?: number;
  /** Address to listen on. Default: Node's (every interface). Use "127.0.0.1" for local only. */
  host?: string;
  /** Attach to this existing HTTP(S) server instead of listening. Its other routes keep working. */
  server?: HttpServer | HttpsServer;
  /** Only upgrades to this path are taken (the Go `uri`). Default: any path. */
  path?: string;
  /** Called with each new connection's muxer and the upgrade request. */
  onConnection?: (muxer: Muxer, request: IncomingMessage) => void;
  /** Largest message accepted, in bytes; larger ones close the connection with 1009. Default 64 MiB. */
  maxPayload?: number;
}

/** A running bimux server (the Go `WsServe`). */
export interface BimuxServer {
  /** The port the server is bound to. */
  readonly port: number;
  /** Each new connection's muxer, once, to whoever iterates (the Go `connections` channel). */
  readonly connections: AsyncIterable<Muxer>;
  /** Live connections by id. */
  readonly peers: PeerRegistry;
  /** Stops accepting, closes every connection with 1001 (their pending calls reject), and stops listening. */
  close(): Promise<void>;
}

const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
/** How long `close()` lets peers answer the close handshake before cutting them off. */
const CLOSE_GRACE_MS = 2000;

/**
 * Starts a bimux server (the Go `WsServe`): every WebSocket that connects on
 * `path` gets a {@link Muxer} with the given hooks, so the server can call the
 * peer as soon as it has it, and the peer can call the server.
 */
export async function serve(options: ServeOptions = {}): Promise<BimuxServer> {
  const { port, host, server: existing, path, onConnection, maxPayload = DEFAULT_MAX_PAYLOAD, ...muxerOptions } = options;
  const http =
    existing ??
    createServer((_req, res) => {
      res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
      res.end("bimux: this endpoint speaks WebSocket only\n");
    });
  const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false });
  const peers = new PeerRegistry();
  const connections = new ConnectionQueue();
  const sockets = new Set<WebSocket>();
  let nextPeer = 0;
  let closing: Promise<void> | undefined;

  const onUpgrade = (request: IncomingMessage, socket: NodeStream, head: Buffer): void => {
    if (path !== undefined && pathOf(request) !== path) {
      // Another upgrade listener may own this path; if there is none, answer for it.
      if (http.listenerCount("upgrade") === 1) rejectUpgrade(socket, 404, "Not Found");
      return;
    }
    if (closing) {
      rejectUpgrade(socket, 503, "Service Unavailable");
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => accept(ws, request));
  };

  const accept = (ws: WebSocket, request: IncomingMessage): void => {
    sockets.add(ws);
    ws.once("close", () => sockets.delete(ws));
    const muxer = new Muxer(wsDuplex(ws), {
      ...muxerOptions,
      id: `peer-${++nextPeer}`,
      onIdChange: (m, previous) => {
        peers.rename(m, previous);
        muxerOptions.onIdChange?.(m, previous);
      },
      onClose: (m) => {
        peers.remove(m);
        connections.drop(m);
        muxerOptions.onClose?.(m);
      },
    });
    peers.add(muxer);
    connections.push(muxer);
    try {
      onConnection?.(muxer, request);
    } catch (error) {
      muxer.close(CloseCode.internalError, "connection handler failed");
      (muxerOptions.onError ?? defaultReport)(BimuxError.from(error, "internal"), muxer);
    }
  };

  http.on("upgrade", onUpgrade);
  if (!existing) {
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(port ?? 0, host, () => {
        http.off("error", reject);
        resolve();
      });
    });
  }

  const close = async (): Promise<void> => {
    http.off("upgrade", onUpgrade);
    connections.end();
    for (const muxer of [...peers]) muxer.close(CloseCode.goingAway, "server closing");
    await settleSockets(sockets);
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
async function settleSockets(sockets: Set<WebSocket>): Promise<void> {
  if (sockets.size === 0) return;
  const all = Promise.all([...sockets].map((ws) => new Promise<void>((resolve) => ws.once("close", () => resolve()))));
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
  await Promise.race([all, grace]);
  clearTimeout(timer);
  for (const ws of sockets) ws.terminate();
}

function pathOf(request: IncomingMessage): string {
  const url = request.url ?? "/";
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}

function rejectUpgrade(socket: NodeStream, status: number, message: string): void {
  socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function defaultReport(error: BimuxError): void {
  console.error(`bimux: ${error.message}`);
}

import { createServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex as NodeStream } from "node:stream";
import { BimuxError, CloseCode, EXTENSIONS_PROTOCOL, Muxer, type MuxerOptions } from "@bimux/core";
import WebSocket, { WebSocketServer } from "ws";
import { ConnectionQueue } from "./connection-queue.js";
import { PeerRegistry } from "./peers.js";
import { EXTENSIONS_HEADER, wsDuplex } from "./ws-duplex.js";

/**
 * Decides whether an upgrade request may connect, before any WebSocket exists.
 * Return `true` (or `{ id }` to name the peer) to accept; `false` to answer 401;
 * `{ status: 401 | 403, message }` to choose. A throw answers 500. Anything else
 * (`undefined` from a hook that forgot to return, say) answers 401: a security check fails closed.
 */
export type Authenticate = (
  request: IncomingMessage,
) => AuthResult | Promise<AuthResult>;

/** What an {@link Authenticate} hook decides. */
export type AuthResult = boolean | { id?: string } | { status: 401 | 403; message?: string };

/**
 * Which browser origins may connect. Requests without an `Origin` header (Node,
 * Go and other non-browser clients) are not affected.
 * - `"same-origin"` (the default): only pages served from this server's own host,
 *   which stops cross-site WebSocket hijacking;
 * - a list of origins such as `"https://app.example.com"`;
 * - a function deciding per request;
 * - `"*"`: any origin (only when authentication does not ride on cookies).
 */
export type OriginPolicy = "same-origin" | "*" | readonly string[] | ((origin: string, request: IncomingMessage) => boolean);

/** Options of {@link serve}: where to listen, and the hooks each connection's muxer gets. */
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
  /** Attach to this existing HTTP(S) server instead of listening. Its other routes keep working. */
  server?: HttpServer | HttpsServer;
  /** Only upgrades to this path are taken (the Go `uri`). Default: any path. */
  path?: string;
  /** Called with each new connection's muxer and the upgrade request. */
  onConnection?: (muxer: Muxer, request: IncomingMessage) => void;
  /** Checks each upgrade request before a WebSocket exists (401/403 otherwise). Default: everyone may connect. */
  authenticate?: Authenticate;
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
  /** Stops accepting, closes every connection with 1001 (their pending calls reject), and stops listening. */
  close(): Promise<void>;
}

const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
/** How long `close()` lets peers answer the close handshake before cutting them off. */
const CLOSE_GRACE_MS = 2000;

/**
 * Starts a bimux server (the Go `WsServe`): every WebSocket that connects on
 * `path` gets a {@link Muxer} with the given hooks, so the server can call the
 * peer as soon as it has it, and the peer can call the server.
 */
export async function serve(options: ServeOptions = {}): Promise<BimuxServer> {
  const {
    port,
    host,
    server: existing,
    path,
    onConnection,
    authenticate,
    origins = "same-origin",
    extensions = true,
    ...muxerOptions
  } = options;
  // Refuse what every connection's muxer would refuse, now rather than at each upgrade.
  for (const [name, ms] of [["timeout", muxerOptions.timeout], ["keepalive.interval", muxerOptions.keepalive ? muxerOptions.keepalive.interval : undefined]] as const) {
    if (ms !== undefined && !(ms > 0)) throw new BimuxError("invalid_argument", `${name} must be a positive number of ms, got ${ms}`);
  }
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
    maxPayload: muxerOptions.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    perMessageDeflate: false,
    // Browsers offer the extensions as a subprotocol, Node clients in a header.
    handleProtocols: (offered) => (extensions && offered.has(EXTENSIONS_PROTOCOL) ? EXTENSIONS_PROTOCOL : false),
  });
  const wantsExtensions = (request: IncomingMessage) => extensions && request.headers[EXTENSIONS_HEADER] === EXTENSIONS_PROTOCOL;
  wss.on("headers", (headers, request) => {
    if (wantsExtensions(request)) headers.push(`${EXTENSIONS_HEADER}: ${EXTENSIONS_PROTOCOL}`);
  });
  const peers = new PeerRegistry();
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
    if (path !== undefined && pathOf(request) !== path) {
      // Another upgrade listener may own this path. When all of them are bimux servers
      // and none owns it, the last one answers, or the client would wait in vain.
      const listeners = http.listeners("upgrade") as Array<{ [SERVED_PATH]?: string }>;
      // A bimux server without a path takes every path: then the path is owned.
      const unowned = listeners.every((l) => SERVED_PATH in l && l[SERVED_PATH] !== undefined && l[SERVED_PATH] !== pathOf(request));
      if (unowned && listeners[listeners.length - 1] === onUpgrade) rejectUpgrade(socket, 404, "Not Found");
      return;
    }
    if (closing) {
      rejectUpgrade(socket, 503, "Service Unavailable");
      return;
    }
    if (!originAllowed(origins, request)) {
      rejectUpgrade(socket, 403, "Forbidden", "origin not allowed");
      return;
    }
    // The socket may fail while we wait for the application's verdict. (A listener
    // made here would keep this scope, request and head included, for the
    // connection's whole life: hence one shared function, removed again.)
    socket.on("error", destroySelf);
    deciding.add(socket);
    void admit(request).then(
      (verdict) => {
        deciding.delete(socket);
        if (socket.destroyed) return;
        if (typeof verdict === "object" && "status" in verdict) {
          rejectUpgrade(socket, verdict.status, verdict.status === 401 ? "Unauthorized" : "Forbidden", verdict.message);
          return;
        }
        if (closing) {
          rejectUpgrade(socket, 503, "Service Unavailable");
          return;
        }
        const id = typeof verdict === "object" ? verdict.id : undefined;
        socket.off("error", destroySelf);
        wss.handleUpgrade(request, socket, head, (ws) => accept(ws, request, id));
      },
      (error: unknown) => {
        deciding.delete(socket);
        report(new BimuxError("internal", `authenticate failed: ${BimuxError.from(error).rawMessage}`, { cause: error }));
        if (!socket.destroyed) rejectUpgrade(socket, 500, "Internal Server Error");
      },
    );
  };
  (onUpgrade as { [SERVED_PATH]?: string })[SERVED_PATH] = path;

  /** The authentication hook's verdict, normalised: a status to refuse with, or an optional id. */
  const admit = async (request: IncomingMessage): Promise<{ status: 401 | 403; message?: string } | { id?: string }> => {
    if (!authenticate) return {};
    const verdict = await authenticate(request);
    if (verdict === true) return {};
    if (typeof verdict !== "object" || verdict === null) return { status: 401 };
    return verdict;
  };

  const accept = (ws: WebSocket, request: IncomingMessage, id: string | undefined): void => {
    let muxer: Muxer;
    try {
      muxer = new Muxer(wsDuplex(ws, wantsExtensions(request) ? EXTENSIONS_PROTOCOL : ws.protocol), shared);
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
    // First let `closing` be set: an onClose hook calling close() again must get this same promise.
    await undefined;
    http.off("upgrade", onUpgrade);
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
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
  await Promise.race([all, grace]);
  clearTimeout(timer);
  for (const ws of sockets) ws.terminate();
}

/** Marks bimux's upgrade listeners with the path each serves. */
const SERVED_PATH = Symbol.for("bimux.servedPath");

function destroySelf(this: NodeStream): void {
  this.destroy();
}

function pathOf(request: IncomingMessage): string {
  const url = request.url ?? "/";
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}

function rejectUpgrade(socket: NodeStream, status: number, statusText: string, body = ""): void {
  // Node stops listening for this socket's errors once it emits `upgrade`: a client
  // resetting it now must not crash the process.
  if (!socket.listeners("error").includes(destroySelf)) socket.on("error", destroySelf);
  const length = Buffer.byteLength(body);
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\n\r\n${body}`,
  );
}

function originAllowed(policy: OriginPolicy, request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true; // Not a browser: cross-site hijacking is a browser attack.
  if (policy === "*") return true;
  if (typeof policy === "function") return policy(origin, request);
  if (policy === "same-origin") {
    try {
      // URL lowercases the host; the Host header is as the client wrote it.
      return new URL(origin).host === request.headers.host?.toLowerCase();
    } catch {
      return false;
    }
  }
  return policy.includes(origin);
}

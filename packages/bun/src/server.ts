import { BimuxError, CloseCode, Muxer, type MuxerOptions } from "@bimux/core";
import { DEFAULTS, EXTENSIONS_HEADER, EXTENSIONS_PROTOCOL, PeerRegistry, acceptsHeader, acceptsSubprotocol, checkTimeout, type DuplicateIdPolicy } from "@bimux/core/transport";
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { BunDuplex, type BimuxSocketData } from "./bun-duplex.js";
import { judge, refusal, type Authenticate, type OriginPolicy, type Verdict } from "./gate.js";

/**
 * Options of {@link bunServer}: who may connect, and the hooks each connection's muxer
 * gets. The names are those of `@bimux/node`'s `serve` where Bun can honour them; where
 * to listen and on which path are Bun.serve's own business (see the README for what
 * `serve` has that this has not).
 */
export interface BunServerOptions extends Omit<MuxerOptions, "id" | "onError"> {
  /**
   * Called when something fails that no caller is waiting on: a one-way handler threw
   * (with its muxer), or the authentication hook threw (without). Default: `console.error`.
   */
  onError?: (error: BimuxError, muxer: Muxer | undefined) => void;
  /** Called with each new connection's muxer and its upgrade request. */
  onConnection?: (muxer: Muxer, request: Request) => void;
  /** Checks each upgrade request before a WebSocket exists (401/403 otherwise). Default: everyone may connect. */
  authenticate?: Authenticate;
  /** Milliseconds `authenticate` may take before the upgrade is answered 503. Default 10 000. */
  authenticateTimeout?: number;
  /** Which browser origins may connect. Default `"same-origin"`. */
  origins?: OriginPolicy;
  /** Take the bimux-ts extensions when a client offers them. Default true. */
  extensions?: boolean;
  /**
   * What a connection taking the id of a live one gets, as with `@bimux/node`'s `serve`.
   * Default `"refuse"`: an id from `authenticate` that is live answers the upgrade 409, and a
   * connection whose id the application sets to a live one is closed with 1008; the live
   * connection keeps its id. `"replace"`: the newcomer takes the id, and the older connection
   * is closed with 1008. See {@link DuplicateIdPolicy}.
   */
  duplicateIds?: DuplicateIdPolicy;
  /**
   * Bun's own `idleTimeout`, in seconds (0 to 960): a connection that receives nothing for
   * that long is closed, and Bun pings it shortly before, so only a peer that stopped
   * answering pings is dropped. Default 0, off, as with `@bimux/node`: a bimux connection
   * lives until one side closes it, and the muxer's `keepalive` is what finds dead peers.
   */
  idleTimeout?: number;
}

/**
 * A bimux server for Bun.serve: a `fetch` step and a `websocket` handler to plug in.
 *
 * ```ts
 * const bimux = bunServer({ handlers: { 1: (_route, data) => data } });
 * Bun.serve({
 *   fetch(request, server) {
 *     if (new URL(request.url).pathname === "/mux") return bimux.upgrade(request, server);
 *     return new Response("hello");
 *   },
 *   websocket: bimux.websocket,
 * });
 * ```
 */
export interface BunBimuxServer {
  /**
   * Judges an upgrade request (origin, `authenticate`), negotiates the bimux extensions, and
   * upgrades it: returns undefined once Bun took the connection (what `fetch` must then
   * return), or the refusal to return instead (401, 403, 409 for an id from `authenticate`
   * that a live connection has, 426 for a request that is not a WebSocket upgrade, 503 while
   * closing…). A promise of either when `authenticate` is async.
   */
  upgrade(request: Request, server: Server<BimuxSocketData>): Response | undefined | Promise<Response | undefined>;
  /** The handler to pass as Bun.serve's `websocket`: it owns every socket `upgrade` made. */
  readonly websocket: WebSocketHandler<BimuxSocketData>;
  /**
   * Live connections by id, as `@bimux/node`'s `server.peers`: `get(id)`, `has(id)`, `size`,
   * iteration (in the order they connected), and `on("join" | "leave", listener)` to follow
   * who is here (what `@bimux/nats`'s `joinCluster` builds on). An id names at most one live
   * connection (see {@link BunServerOptions.duplicateIds}); renames (`muxer.id = …`) are followed.
   */
  readonly peers: PeerRegistry;
  /**
   * Stops taking upgrades (503), closes every connection with 1001 (their pending calls
   * reject), waits for their close handshakes for a grace period, then drops the rest.
   * Bun.serve keeps running: stop it afterwards, if it should stop.
   */
  close(): Promise<void>;
}

/**
 * Makes a bimux server for Bun.serve (the Go `WsServe`, without the listening): every
 * WebSocket that {@link BunBimuxServer.upgrade} takes gets a {@link Muxer} with the given
 * hooks, so the server can call the peer as soon as it has it, and the peer the server.
 * Go peers, `@bimux/node`'s and `@bimux/browser`'s `dial` connect to it as to `@bimux/node`'s `serve`.
 */
export function bunServer(options: BunServerOptions = {}): BunBimuxServer {
  const {
    onConnection,
    authenticate,
    authenticateTimeout = DEFAULTS.authenticateTimeout,
    origins = "same-origin",
    extensions = true,
    duplicateIds = "refuse",
    idleTimeout = 0,
    ...muxerOptions
  } = options;
  // Refuse what every connection's muxer would refuse, now rather than at each upgrade.
  if (muxerOptions.timeout !== undefined) checkTimeout(muxerOptions.timeout);
  if (muxerOptions.keepalive) checkTimeout(muxerOptions.keepalive.interval ?? DEFAULTS.keepaliveInterval, "keepalive.interval");
  checkTimeout(authenticateTimeout, "authenticateTimeout");
  const maxMessageSize = muxerOptions.maxMessageSize ?? DEFAULTS.maxMessageSize;
  // What the muxer lets the socket hold before its writes fail with `overloaded`, plus the one
  // largest frame the last write below that may add (14 bytes of WebSocket header at most).
  const muxerLimit = (muxerOptions.highWaterMark ?? DEFAULTS.highWaterMark) + (muxerOptions.maxQueuedBytes ?? DEFAULTS.maxQueuedBytes) + maxMessageSize + 14;
  const report = (error: BimuxError, muxer?: Muxer): void => {
    if (muxerOptions.onError) muxerOptions.onError(error, muxer);
    else console.error(`bimux: ${error.message}`);
  };

  // A registry listener's throw is reported as any other failure no caller waits on.
  const peers = new PeerRegistry(duplicateIds, (error) => report(BimuxError.from(error, "internal")));
  // Open sockets, to drop the ones that do not answer a close handshake in time.
  const sockets = new Set<BunDuplex>();
  let deciding = 0;
  let closing: Promise<void> | undefined;
  let settle: (() => void) | undefined;

  // One options object for every connection's muxer: per-connection copies and closures
  // add up over tens of thousands of idle connections.
  const shared: MuxerOptions = peers.following(muxerOptions);

  /** The request was judged: refuse it, or negotiate and upgrade it. */
  const finish = (request: Request, server: Server<BimuxSocketData>, verdict: Verdict): Response | undefined => {
    if (!verdict.accept) return refusal(verdict.status, verdict.message);
    if (closing) return refusal(503);
    // An id vouched for by authenticate that a live connection has: refused before any WebSocket
    // exists. (Checked again when the socket opens: another may take it in between.)
    if (verdict.id !== undefined && !peers.available(verdict.id)) return refusal(409, `id ${JSON.stringify(verdict.id)} is in use`);
    // Browsers offer the extensions as a subprotocol, Node clients in a header (see negotiation in core).
    const headers: Record<string, string> = {};
    let protocol = "";
    const offered = request.headers.get("sec-websocket-protocol");
    if (offered !== null) {
      // Bun picks the first subprotocol offered unless told one, and an empty header tells it
      // none: like @bimux/node's server (and Go's), this one picks only the extensions' own.
      const accepted = acceptsSubprotocol(extensions, new Set(offered.split(",").map((p) => p.trim())));
      headers["sec-websocket-protocol"] = protocol = accepted ? EXTENSIONS_PROTOCOL : "";
    }
    if (acceptsHeader(extensions, request.headers.get(EXTENSIONS_HEADER) ?? undefined)) headers[EXTENSIONS_HEADER] = protocol = EXTENSIONS_PROTOCOL;
    if (server.upgrade(request, { data: new BunDuplex(protocol, verdict.id, request), headers })) return undefined;
    return refusal(400, "bimux: not a WebSocket upgrade");
  };

  const upgrade = (request: Request, server: Server<BimuxSocketData>): Response | undefined | Promise<Response | undefined> => {
    if (closing) return refusal(503);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("bimux: this endpoint speaks WebSocket only\n", { status: 426, headers: { "content-type": "text/plain", upgrade: "websocket" } });
    }
    // Upgrades waiting for a verdict hold a request and the hook's work each: bounded, as in @bimux/node.
    if (authenticate && deciding >= DEFAULTS.maxPendingUpgrades) return refusal(503);
    const verdict = judge(request, origins, authenticate, authenticateTimeout);
    if (!(verdict instanceof Promise)) return finish(request, server, verdict);
    deciding++;
    return verdict.then(
      (decided) => {
        deciding--;
        return finish(request, server, decided);
      },
      (error: unknown) => {
        deciding--;
        report(BimuxError.from(error, "internal"));
        return refusal(500);
      },
    );
  };

  const open = (ws: ServerWebSocket<BimuxSocketData>): void => {
    const duplex = ws.data as BunDuplex;
    duplex.attach(ws as ServerWebSocket<BunDuplex>);
    sockets.add(duplex);
    const request = duplex.request!;
    duplex.request = undefined;
    let muxer: Muxer;
    try {
      muxer = new Muxer(duplex, shared);
    } catch (error) {
      // Options no muxer can take (a handler on a route that is not an int32…): no connection can be served.
      ws.close(CloseCode.internalError, "server misconfigured");
      report(BimuxError.from(error, "internal"));
      return;
    }
    duplex.muxer = muxer;
    muxer.id = peers.idFor(duplex.id);
    if (closing) return muxer.close(CloseCode.goingAway, "server closing");
    // Another connection took this id between the upgrade and now: the registry closed this one (1008).
    if (!peers.add(muxer)) return;
    try {
      onConnection?.(muxer, request);
    } catch (error) {
      muxer.close(CloseCode.internalError, "connection handler failed");
      report(BimuxError.from(error, "internal"), muxer);
    }
  };

  // Shared functions, not closures per socket: each finds its connection in ws.data.
  const websocket: WebSocketHandler<BimuxSocketData> = {
    // A larger inbound message closes its connection with 1009, as the muxer would.
    maxPayloadLength: maxMessageSize,
    // Bun drops a message sent past this limit; the muxer fails its writes with `overloaded`
    // below it, so reaching it means something is wrong, and the connection is closed rather
    // than left with a frame silently lost.
    backpressureLimit: Math.min(muxerLimit, 0xffffffff),
    closeOnBackpressureLimit: true,
    idleTimeout,
    perMessageDeflate: false,
    open,
    message(ws, message) {
      (ws.data as BunDuplex).message(message);
    },
    close(ws, code, reason) {
      const duplex = ws.data as BunDuplex;
      duplex.closed(code, reason);
      sockets.delete(duplex);
      if (sockets.size === 0) settle?.();
    },
    pong(ws) {
      (ws.data as BunDuplex).alive();
    },
  };

  const close = async (): Promise<void> => {
    // First let `closing` be set: an onClose hook calling close() again must get this same promise.
    await undefined;
    for (const muxer of [...peers]) muxer.close(CloseCode.goingAway, "server closing");
    if (sockets.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        settle = resolve;
        timer = setTimeout(resolve, DEFAULTS.closeGrace);
      });
      clearTimeout(timer);
    }
    for (const duplex of sockets) duplex.terminate();
  };

  return {
    upgrade,
    websocket,
    peers,
    close: () => (closing ??= close()),
  };
}

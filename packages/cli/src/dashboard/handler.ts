import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { BimuxError, measureRtt, peerInfo, watchPeers, type BimuxServer, type Muxer } from "@bimux/node";
import { UsageError, decodePayload, encodePayload, encodingOf, type Encoding } from "../args.js";
import { AGENT_HTML, AGENT_JS, DASHBOARD_HTML, DASHBOARD_JS } from "./assets.js";

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /**
   * Where the dashboard lives on the HTTP server, such as `"/admin/bimux"`: the page
   * at `prefix + "/"`, its API under `prefix + "/api/"`. Default: the root.
   */
  prefix?: string;
  /**
   * Decides whether a request may see the dashboard or call a peer through it. The
   * dashboard is an admin surface: it lists every peer and calls any of them, so
   * anything not on loopback needs this (a session cookie, a token, mTLS…). A request
   * it refuses gets 401. Default: everyone who can reach it.
   */
  authorize?: (request: IncomingMessage) => boolean | Promise<boolean>;
  /** The path the bimux server takes upgrades on, which the agent page dials. Default `"/mux"`. */
  muxPath?: string;
  /** Longest a call through the dashboard may wait for its reply, in milliseconds. Default 10 000. */
  callTimeout?: number;
}

/** One peer as `GET /api/peers` lists it. */
export interface PeerSummary {
  /** The server's id for the peer (`muxer.id`). */
  id: string;
  /** The peer's address and port, as the server's socket saw them. */
  remoteAddress: string;
  remotePort: number;
  /** When it connected, in milliseconds since the epoch. */
  connectedAt: number;
  /** Calls the peer made to the server that are being served now (`muxer.servingCalls`). */
  callsIn: number;
  /** Calls the server made to the peer that wait for their reply now (`muxer.pendingCalls`). */
  callsOut: number;
  /** Round trip of the last WebSocket ping, in milliseconds; null before the first. */
  rtt: number | null;
  /** Bytes queued for the peer and not yet sent (`muxer.bufferedAmount`). */
  bufferedAmount: number;
}

/** What {@link createDashboard} returns: a request handler that says whether it answered, and `close`. */
export interface DashboardHandler {
  /** Answers `request` if it is the dashboard's (true), else leaves it to the application (false). */
  (request: IncomingMessage, response: ServerResponse): boolean;
  /** Ends the live streams of open dashboard pages and stops watching the server: call it before `server.close()`. */
  close(): void;
}

/** Largest JSON body `POST /api/call` takes: the request data plus a little. */
const BODY_LIMIT = 16 * 1024 * 1024;
/** How often open dashboards get fresh numbers (calls in flight, queued bytes, RTT) even when no peer comes or goes. */
const REFRESH_MS = 2000;
/** Peers pinged per refresh for their RTT: a dashboard must not ping ten thousand agents every two seconds. */
const RTT_PEERS = 200;

const require = createRequire(import.meta.url);

/**
 * A dashboard for a bimux server, as a request handler to mount in any Node HTTP
 * server (or Express, Fastify, Hono on Node: see docs/recipes.md):
 *
 * ```ts
 * const dashboard = createDashboard(bimux, { prefix: "/admin", authorize: (req) => isAdmin(req) });
 * http.createServer((req, res) => dashboard(req, res) || app(req, res));
 * ```
 *
 * It serves the live list of peers (`GET /api/peers`, and Server-Sent Events on
 * `GET /api/events` whenever one comes or goes), calls a route on any peer
 * (`POST /api/call` with `{ peer, route, data, encoding }`), and a demo agent page
 * (`/agent`) that dials in from the browser with @bimux/browser's `<script>` build.
 *
 * It is an admin surface: whoever reaches it can call every peer. Keep it on
 * loopback, or give it `authorize`.
 */
export function createDashboard(server: BimuxServer, options: DashboardOptions = {}): DashboardHandler {
  const prefix = (options.prefix ?? "").replace(/\/+$/, "");
  const muxPath = options.muxPath ?? "/mux";
  const callTimeout = options.callTimeout ?? 10_000;
  const streams = new Set<ServerResponse>();
  let refresh: NodeJS.Timeout | undefined;
  let pending: NodeJS.Timeout | undefined;

  const broadcast = async () => {
    pending = undefined;
    if (!streams.size) return;
    const body = `event: peers\ndata: ${JSON.stringify(await summaries(server, true))}\n\n`;
    for (const stream of streams) stream.write(body);
  };
  // Peers that come and go in a burst make one update, not one each.
  const soon = () => (pending ??= setTimeout(() => void broadcast(), 50));
  const unwatch = watchPeers(server.peers, () => {
    if (streams.size) soon();
  });

  const handler = ((request: IncomingMessage, response: ServerResponse): boolean => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) return false;
    const path = url.pathname.slice(prefix.length) || "";
    const route = ROUTES[`${request.method} ${path}`];
    if (!route && path !== "") return false;
    void (async () => {
      if (options.authorize && !(await options.authorize(request))) return send(response, 401, "text/plain; charset=utf-8", "bimux dashboard: not authorized\n");
      // The page's relative URLs (api/…, agent) need the trailing slash.
      if (path === "") return void response.writeHead(308, { location: `${prefix}/` }).end();
      await route!(request, response);
    })().catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, "text/plain; charset=utf-8", `bimux dashboard: ${BimuxError.from(error).message}\n`);
      else response.destroy();
    });
    return true;
  }) as DashboardHandler;

  const ROUTES: Record<string, (request: IncomingMessage, response: ServerResponse) => void | Promise<void>> = {
    "GET /": (_q, r) => send(r, 200, "text/html; charset=utf-8", DASHBOARD_HTML),
    "GET /dashboard.js": (_q, r) => send(r, 200, "text/javascript; charset=utf-8", DASHBOARD_JS),
    "GET /agent": (_q, r) => send(r, 200, "text/html; charset=utf-8", AGENT_HTML),
    "GET /agent.js": (_q, r) => send(r, 200, "text/javascript; charset=utf-8", AGENT_JS.replace("__MUX_PATH__", JSON.stringify(muxPath))),
    "GET /bimux.global.js": async (_q, r) => send(r, 200, "text/javascript; charset=utf-8", await readFile(require.resolve("@bimux/browser/bimux.global.js"))),
    "GET /api/peers": async (_q, r) => send(r, 200, "application/json", JSON.stringify({ peers: await summaries(server, true) })),
    "GET /api/events": async (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      streams.add(response);
      // The response's close: the page went away (the request's may come as soon as its empty body is read).
      response.on("close", () => {
        streams.delete(response);
        if (streams.size) return;
        clearInterval(refresh);
        refresh = undefined;
      });
      refresh ??= setInterval(() => void broadcast(), REFRESH_MS).unref();
      response.write(`event: peers\ndata: ${JSON.stringify(await summaries(server, false))}\n\n`);
    },
    "POST /api/call": async (request, response) => {
      // A cross-site form can post text/plain without asking; JSON needs a CORS preflight this server never grants.
      if (!/^application\/json\b/.test(request.headers["content-type"] ?? "")) return send(response, 415, "application/json", errorBody("invalid_argument", "send JSON (content-type: application/json)"));
      const result = await callPeer(server, await readBody(request), callTimeout);
      send(response, result.status, "application/json", JSON.stringify(result.body));
    },
  };

  handler.close = () => {
    unwatch();
    clearInterval(refresh);
    clearTimeout(pending);
    for (const stream of streams) stream.end();
    streams.clear();
  };
  return handler;
}

function send(response: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  response.writeHead(status, { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff" }).end(body);
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ ok: false, error: { code, message } });
}

/** Every live peer of `server`, newest last; with `ping`, a fresh RTT for the first {@link RTT_PEERS}. */
export async function summaries(server: BimuxServer, ping: boolean): Promise<PeerSummary[]> {
  const peers = [...server.peers];
  if (ping) await Promise.all(peers.slice(0, RTT_PEERS).map((muxer) => measureRtt(muxer, 1000)));
  return peers.filter((muxer) => !muxer.closed).map(summary);
}

function summary(muxer: Muxer): PeerSummary {
  const info = peerInfo(muxer);
  return {
    id: muxer.id,
    remoteAddress: info?.remoteAddress ?? "",
    remotePort: info?.remotePort ?? 0,
    connectedAt: info?.connectedAt ?? 0,
    callsIn: muxer.servingCalls,
    callsOut: muxer.pendingCalls,
    rtt: info?.rtt === undefined ? null : Math.round(info.rtt * 100) / 100,
    bufferedAmount: muxer.bufferedAmount,
  };
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new BimuxError("too_large", `request body over ${BODY_LIMIT} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return undefined;
  }
}

/** What `POST /api/call` answers: 200 with the reply or the call's typed error; 400 or 404 when no call was made. */
async function callPeer(server: BimuxServer, body: unknown, timeout: number): Promise<{ status: number; body: unknown }> {
  const fail = (status: number, code: string, message: string) => ({ status, body: { ok: false, error: { code, message } } });
  if (typeof body !== "object" || body === null) return fail(400, "invalid_argument", "the body must be a JSON object { peer, route, data, encoding }");
  const { peer, route, data = "", encoding: encodingName, oneway } = body as Record<string, unknown>;
  if (typeof peer !== "string") return fail(400, "invalid_argument", "peer must be a peer's id");
  if (typeof route !== "number" || !Number.isInteger(route) || route < -(2 ** 31) || route >= 2 ** 31) return fail(400, "invalid_argument", "route must be an int32");
  if (typeof data !== "string") return fail(400, "invalid_argument", "data must be a string in the given encoding");
  let encoding: Encoding;
  let bytes: Uint8Array;
  try {
    encoding = encodingOf(typeof encodingName === "string" ? encodingName : undefined);
    bytes = encodePayload(data, encoding);
  } catch (error) {
    if (error instanceof UsageError) return fail(400, "invalid_argument", error.message);
    throw error;
  }
  const muxer = server.peers.get(peer);
  if (!muxer) return fail(404, "not_found", `no peer ${JSON.stringify(peer)} is connected`);
  try {
    if (oneway === true) {
      await muxer.send(route, bytes);
      return { status: 200, body: { ok: true } };
    }
    const reply = await muxer.rpc(route, bytes, { timeout });
    let text: string;
    let shown = encoding;
    try {
      const decoded = decodePayload(reply, encoding);
      text = typeof decoded === "string" ? decoded.replace(/\n$/, "") : new TextDecoder().decode(decoded);
    } catch {
      // The reply is not JSON after all: show it as text rather than lose it.
      text = new TextDecoder().decode(reply);
      shown = "utf8";
    }
    return { status: 200, body: { ok: true, data: text, encoding: shown, size: reply.length } };
  } catch (error) {
    const failure = BimuxError.from(error);
    return { status: 200, body: { ok: false, error: { code: failure.code, message: failure.rawMessage, remote: failure.remote } } };
  }
}

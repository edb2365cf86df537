import type { IncomingMessage } from "node:http";
import { debuglog } from "node:util";
import type { CloseInfo, Muxer } from "@bimux/core";

/**
 * The server's debug log: `NODE_DEBUG=bimux node app.js` prints to stderr, with
 * Node's own `BIMUX <pid>:` prefix, every connect, every refused upgrade with its
 * reason, every close with its code and reason, protocol errors and limits hit.
 * Off (one boolean check per event) otherwise. Node's `util.debuglog`, so no
 * dependency and the same switch as Node's own subsystems (`NODE_DEBUG=bimux,http`).
 */
const debug = debuglog("bimux");

/** True when `NODE_DEBUG` names bimux: callers skip building messages otherwise. */
export function logging(): boolean {
  return debug.enabled;
}

/** A request's peer address and path, as the log names them. */
function who(request: IncomingMessage): string {
  const origin = request.headers.origin ? ` origin ${request.headers.origin}` : "";
  return `${request.socket.remoteAddress ?? "?"}:${request.socket.remotePort ?? "?"} ${request.url ?? "/"}${origin}`;
}

/** A new connection was accepted. */
export function logConnect(muxer: Muxer, request: IncomingMessage): void {
  if (debug.enabled) debug("connect %s from %s", muxer.id, who(request));
}

/** An upgrade was refused before any WebSocket existed: `reason` says why (path, origin, authentication, closing). */
export function logRefusal(request: IncomingMessage, status: number, reason: string): void {
  if (debug.enabled) debug("refuse %s: %d %s", who(request), status, reason);
}

/**
 * A connection ended. Its error, if any, says whether the peer broke the protocol
 * (`protocol`) or a limit was hit (`too_large`: a message over `maxMessageSize`;
 * `overloaded`: a peer that does not read its replies).
 */
export function logClose(muxer: Muxer, info: CloseInfo | undefined): void {
  if (!debug.enabled) return;
  if (!info) return debug("close %s", muxer.id);
  const { code, reason, initiator, error } = info;
  const kind = !error ? "" : error.code === "protocol" ? " protocol error:" : error.code === "too_large" || error.code === "overloaded" ? " limit hit:" : " error:";
  debug("close %s: %d %s (by %s)%s%s", muxer.id, code, JSON.stringify(reason), initiator, kind, error ? ` ${error.message}` : "");
}

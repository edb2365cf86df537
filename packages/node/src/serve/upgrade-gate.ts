import type { IncomingMessage } from "node:http";
import type { Duplex as NodeStream } from "node:stream";
import {
  authenticateUpgrade,
  originAllowed,
  refused,
  type AuthContext,
  type AuthResult,
  type Authenticate as CoreAuthenticate,
  type OriginPolicy as CoreOriginPolicy,
  type Verdict,
} from "@bimux/core/transport";

/**
 * Decides whether an upgrade request may connect, before any WebSocket exists: see
 * `Authenticate` in `@bimux/core/transport`, which every bimux server shares.
 */
export type Authenticate = CoreAuthenticate<IncomingMessage>;

/** Which browser origins may connect: see `OriginPolicy` in `@bimux/core/transport`. */
export type OriginPolicy = CoreOriginPolicy<IncomingMessage>;

export type { AuthContext, AuthResult, Verdict };

/** How the gate judges requests: the options of `serve` it reads. */
export interface GateOptions {
  authenticate?: Authenticate;
  origins: OriginPolicy;
  /** Milliseconds the authenticate hook may take. */
  authenticateTimeout: number;
  /** Aborts when the client goes away before the verdict. */
  signal?: AbortSignal;
}

/**
 * The upgrade gate: every check a request passes before it becomes a WebSocket,
 * in order: the origin (browsers of other sites), then the application's
 * `authenticate` hook, with a deadline and a strict reading of its verdict (both
 * core's, shared with the other servers). (The path is the router's: see upgrade-router.ts.)
 */
export async function judge(request: IncomingMessage, options: GateOptions): Promise<Verdict> {
  const { origin, host } = request.headers;
  if (!originAllowed(options.origins, origin, host, request)) return refused(403, "origin not allowed", `origin ${origin} not allowed`);
  const { authenticate } = options;
  if (!authenticate) return { accept: true };
  return authenticateUpgrade(request, authenticate, options.authenticateTimeout, options.signal);
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Answers an upgrade request with an HTTP error and ends the connection: no WebSocket is made (ws's `abortHandshake`). */
export function refuseUpgrade(socket: NodeStream, status: number, body = ""): void {
  // Node stops listening for this socket's errors once it emits `upgrade`: a client
  // resetting it now must not crash the process.
  if (!socket.listeners("error").includes(destroySelf)) socket.on("error", destroySelf);
  if (socket.destroyed) return;
  const length = Buffer.byteLength(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\n\r\n${body}`,
  );
}

/** One shared listener for the errors of sockets in the gate, rather than a closure each. */
export function destroySelf(this: NodeStream): void {
  this.destroy();
}

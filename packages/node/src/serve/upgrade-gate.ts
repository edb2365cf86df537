import type { IncomingMessage } from "node:http";
import type { Duplex as NodeStream } from "node:stream";
import { BimuxError } from "@bimux/core";

/**
 * Decides whether an upgrade request may connect, before any WebSocket exists.
 * Return `true` to accept, `{ id }` (a non-empty string) to accept and name the
 * peer, `{ status: 401 | 403, message }` to refuse with that status. Anything
 * else (`false`, `undefined` from a hook that forgot to return, `{ ok: false }`,
 * `{ id: undefined }`) answers 401: a security check fails closed. A throw answers
 * 500, and a hook that takes longer than `authenticateTimeout` 503.
 */
export type Authenticate = (request: IncomingMessage, context: AuthContext) => AuthResult | Promise<AuthResult>;

/** What an {@link Authenticate} hook is told besides the request. */
export interface AuthContext {
  /** Aborts when nobody waits for the verdict any more: past `authenticateTimeout`, or the client went away. */
  readonly signal: AbortSignal;
}

/** What an {@link Authenticate} hook decides. */
export type AuthResult = boolean | { id: string } | { status: 401 | 403; message?: string };

/**
 * Which browser origins may connect. Requests without an `Origin` header (Node,
 * Go and other non-browser clients) are not affected.
 * - `"same-origin"` (the default): only pages whose origin's host is the `Host` the
 *   request was sent to, which stops cross-site WebSocket hijacking (but not a page
 *   on a DNS-rebinding host name: list your origins in production, see docs/security.md);
 * - a list of origins such as `"https://app.example.com"`;
 * - a function deciding per request;
 * - `"*"`: any origin (only when authentication does not ride on cookies).
 */
export type OriginPolicy = "same-origin" | "*" | readonly string[] | ((origin: string, request: IncomingMessage) => boolean);

/** The gate's verdict on one upgrade request. */
export type Verdict = { accept: true; id?: string } | { accept: false; status: number; message: string; reason: string };

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
 * `authenticate` hook, with a deadline and a strict reading of its verdict.
 * (The path is the router's: see upgrade-router.ts.)
 */
export async function judge(request: IncomingMessage, options: GateOptions): Promise<Verdict> {
  if (!originAllowed(options.origins, request)) return refuse(403, "origin not allowed", `origin ${request.headers.origin} not allowed`);
  const { authenticate } = options;
  if (!authenticate) return { accept: true };
  let timer: NodeJS.Timeout | undefined;
  let verdict: unknown;
  // The hook may stop its work (a database query, a token check) once nobody waits for it.
  const controller = new AbortController();
  const gone = () => controller.abort(new BimuxError("aborted", "the client went away"));
  options.signal?.addEventListener("abort", gone, { once: true });
  try {
    verdict = await Promise.race([
      authenticate(request, { signal: controller.signal }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(TIMED_OUT), options.authenticateTimeout);
      }),
    ]);
  } catch (error) {
    if (error === TIMED_OUT) {
      controller.abort(new BimuxError("timeout", `authenticate took longer than ${options.authenticateTimeout} ms`));
      return refuse(503, "", `authenticate took longer than ${options.authenticateTimeout} ms`);
    }
    throw new BimuxError("internal", `authenticate failed: ${BimuxError.from(error).rawMessage}`, { cause: error });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", gone);
  }
  return read(verdict);
}

const TIMED_OUT = Symbol("authenticate timed out");

/** An authenticate hook's verdict, read strictly: only `true`, `{ id: "…" }` and `{ status: 401 | 403 }` mean what they say. */
function read(verdict: unknown): Verdict {
  if (verdict === true) return { accept: true };
  if (typeof verdict === "object" && verdict !== null) {
    const { id, status, message } = verdict as { id?: unknown; status?: unknown; message?: unknown };
    if (status === 401 || status === 403) return refuse(status, typeof message === "string" ? message : "", `authenticate refused with ${status}`);
    if (status === undefined && typeof id === "string" && id !== "") return { accept: true, id };
  }
  return refuse(401, "", `authenticate returned ${describe(verdict)}, not true or { id: non-empty string }`);
}

function refuse(status: number, message: string, reason: string): Verdict {
  return { accept: false, status, message, reason };
}

function describe(value: unknown): string {
  try {
    return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
  } catch {
    return typeof value;
  }
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

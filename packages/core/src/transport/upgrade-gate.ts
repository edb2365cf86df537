import { BimuxError } from "../errors.js";

// The checks a server makes of an upgrade request before any WebSocket exists, shared by the
// servers of every runtime (`@bimux/node` on an `IncomingMessage`, `@bimux/bun` on a Fetch
// `Request`): `R` is the runtime's request. Each server reads the headers its own way and
// answers the verdict its own way; what the checks decide is decided here, once.

/**
 * Decides whether an upgrade request may connect, before any WebSocket exists.
 * Return `true` to accept, `{ id }` (a non-empty string) to accept and name the
 * peer, `{ status: 401 | 403, message }` to refuse with that status. Anything
 * else (`false`, `undefined` from a hook that forgot to return, `{ ok: false }`,
 * `{ id: undefined }`) answers 401: a security check fails closed. A throw answers
 * 500, and a hook that takes longer than `authenticateTimeout` 503.
 */
export type Authenticate<R> = (request: R, context: AuthContext) => AuthResult | Promise<AuthResult>;

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
export type OriginPolicy<R> = "same-origin" | "*" | readonly string[] | ((origin: string, request: R) => boolean);

/**
 * The verdict on one upgrade request: accepted (and maybe named), or refused with an HTTP
 * `status`, the `message` the application chose to send, and a `reason` for the server's log.
 */
export type Verdict = { accept: true; id?: string } | { accept: false; status: number; message: string; reason: string };

/** Whether `policy` lets a page of `origin` (undefined: not a browser) connect to `host`. */
export function originAllowed<R>(policy: OriginPolicy<R>, origin: string | undefined, host: string | undefined, request: R): boolean {
  if (origin === undefined) return true; // Not a browser: cross-site hijacking is a browser attack.
  if (policy === "*") return true;
  if (typeof policy === "function") return policy(origin, request);
  if (policy === "same-origin") {
    try {
      // URL lowercases the host; the Host header is as the client wrote it.
      return new URL(origin).host === host?.toLowerCase();
    } catch {
      return false;
    }
  }
  return policy.includes(origin);
}

// What the deadline rejects with: nothing a hook could throw is this object. (A plain object,
// not a Symbol: bundlers keep a top-level call, and a page that never serves would carry it.)
const TIMED_OUT = {};

/**
 * Asks the application's `authenticate` hook about `request`, with a deadline of `timeout`
 * ms (503 past it) and a strict reading of its verdict. `signal` aborts when the client goes
 * away; the hook's own signal aborts then, or at the deadline. Rejects with an `internal`
 * {@link BimuxError} when the hook throws (the server answers 500).
 */
export async function authenticateUpgrade<R>(request: R, authenticate: Authenticate<R>, timeout: number, signal?: AbortSignal): Promise<Verdict> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let verdict: unknown;
  // The hook may stop its work (a database query, a token check) once nobody waits for it.
  const controller = new AbortController();
  const gone = () => controller.abort(new BimuxError("aborted", "the client went away"));
  signal?.addEventListener("abort", gone, { once: true });
  try {
    verdict = await Promise.race([
      authenticate(request, { signal: controller.signal }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(TIMED_OUT), timeout);
      }),
    ]);
  } catch (error) {
    if (error === TIMED_OUT) {
      controller.abort(new BimuxError("timeout", `authenticate took longer than ${timeout} ms`));
      return refused(503, "", `authenticate took longer than ${timeout} ms`);
    }
    throw new BimuxError("internal", `authenticate failed: ${BimuxError.from(error).rawMessage}`, { cause: error });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", gone);
  }
  return readVerdict(verdict);
}

/** An authenticate hook's verdict, read strictly: only `true`, `{ id: "…" }` and `{ status: 401 | 403 }` mean what they say. */
function readVerdict(verdict: unknown): Verdict {
  if (verdict === true) return { accept: true };
  if (typeof verdict === "object" && verdict !== null) {
    const { id, status, message } = verdict as { id?: unknown; status?: unknown; message?: unknown };
    if (status === 401 || status === 403) return refused(status, typeof message === "string" ? message : "", `authenticate refused with ${status}`);
    if (status === undefined && typeof id === "string" && id !== "") return { accept: true, id };
  }
  return refused(401, "", `authenticate returned ${describe(verdict)}, not true or { id: non-empty string }`);
}

/** A refusal with `status`, what the client is told (`message`), and what the server logs (`reason`). */
export function refused(status: number, message: string, reason: string): Verdict {
  return { accept: false, status, message, reason };
}

function describe(value: unknown): string {
  try {
    return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
  } catch {
    return typeof value;
  }
}

import { BimuxError } from "@bimux/core";

/**
 * Decides whether an upgrade request may connect, before any WebSocket exists: the
 * `authenticate` of `@bimux/node`'s `serve`, on a Fetch `Request`. Return `true` to
 * accept, `{ id }` (a non-empty string) to accept and name the peer, `{ status: 401 | 403,
 * message }` to refuse with that status. Anything else (`false`, `undefined` from a hook
 * that forgot to return, `{ ok: false }`, `{ id: undefined }`) answers 401: a security
 * check fails closed. A throw answers 500, and a hook that takes longer than
 * `authenticateTimeout` 503.
 */
export type Authenticate = (request: Request, context: AuthContext) => AuthResult | Promise<AuthResult>;

/** What an {@link Authenticate} hook is told besides the request. */
export interface AuthContext {
  /** Aborts when nobody waits for the verdict any more: past `authenticateTimeout`, or the client went away. */
  readonly signal: AbortSignal;
}

/** What an {@link Authenticate} hook decides. */
export type AuthResult = boolean | { id: string } | { status: 401 | 403; message?: string };

/**
 * Which browser origins may connect. Requests without an `Origin` header (Node, Go and
 * other non-browser clients) are not affected.
 * - `"same-origin"` (the default): only pages whose origin's host is the `Host` the request
 *   was sent to, which stops cross-site WebSocket hijacking;
 * - a list of origins such as `"https://app.example.com"`;
 * - a function deciding per request;
 * - `"*"`: any origin (only when authentication does not ride on cookies).
 */
export type OriginPolicy = "same-origin" | "*" | readonly string[] | ((origin: string, request: Request) => boolean);

/** The gate's verdict on one upgrade request. */
export type Verdict = { accept: true; id?: string } | { accept: false; status: number; message: string };

/**
 * Every check a request passes before it becomes a WebSocket, in the order of
 * `@bimux/node`'s upgrade gate: the origin, then the application's `authenticate`
 * hook, with a deadline and a strict reading of its verdict. Synchronous (no promise)
 * when there is no hook, so that an open server upgrades in the same tick.
 */
export function judge(request: Request, origins: OriginPolicy, authenticate: Authenticate | undefined, timeout: number): Verdict | Promise<Verdict> {
  if (!originAllowed(origins, request)) return refuse(403);
  if (!authenticate) return ACCEPT;
  return ask(request, authenticate, timeout);
}

const ACCEPT: Verdict = { accept: true };
const TIMED_OUT = Symbol("authenticate timed out");

async function ask(request: Request, authenticate: Authenticate, timeout: number): Promise<Verdict> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The hook may stop its work (a database query, a token check) once nobody waits for it.
  const controller = new AbortController();
  // Bun aborts a request's signal when its client goes away.
  const gone = () => controller.abort(new BimuxError("aborted", "the client went away"));
  request.signal.addEventListener("abort", gone, { once: true });
  let verdict: unknown;
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
      return refuse(503);
    }
    throw new BimuxError("internal", `authenticate failed: ${BimuxError.from(error).rawMessage}`, { cause: error });
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener("abort", gone);
  }
  return read(verdict);
}

/** An authenticate hook's verdict, read strictly: only `true`, `{ id: "…" }` and `{ status: 401 | 403 }` mean what they say. */
function read(verdict: unknown): Verdict {
  if (verdict === true) return ACCEPT;
  if (typeof verdict === "object" && verdict !== null) {
    const { id, status, message } = verdict as { id?: unknown; status?: unknown; message?: unknown };
    if (status === 401 || status === 403) return refuse(status, typeof message === "string" ? message : "");
    if (status === undefined && typeof id === "string" && id !== "") return { accept: true, id };
  }
  return refuse(401);
}

function refuse(status: number, message = ""): Verdict {
  return { accept: false, status, message };
}

function originAllowed(policy: OriginPolicy, request: Request): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true; // Not a browser: cross-site hijacking is a browser attack.
  if (policy === "*") return true;
  if (typeof policy === "function") return policy(origin, request);
  if (policy === "same-origin") {
    try {
      // URL lowercases the host; the Host header is as the client wrote it.
      return new URL(origin).host === request.headers.get("host")?.toLowerCase();
    } catch {
      return false;
    }
  }
  return policy.includes(origin);
}

/** An HTTP refusal of an upgrade: the status, and only what the application chose to say in the body. */
export function refusal(status: number, body = ""): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain", connection: "close" } });
}

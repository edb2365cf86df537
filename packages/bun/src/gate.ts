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
 * Decides whether an upgrade request may connect, before any WebSocket exists: the
 * `authenticate` of `@bimux/node`'s `serve` (both are `Authenticate` of `@bimux/core/transport`),
 * on a Fetch `Request`.
 */
export type Authenticate = CoreAuthenticate<Request>;

/** Which browser origins may connect: see `OriginPolicy` in `@bimux/core/transport`. */
export type OriginPolicy = CoreOriginPolicy<Request>;

export type { AuthContext, AuthResult, Verdict };

const ACCEPT: Verdict = { accept: true };

/**
 * Every check a request passes before it becomes a WebSocket, as in `@bimux/node`'s upgrade
 * gate and with the same code (core's): the origin, then the application's `authenticate`
 * hook, with a deadline and a strict reading of its verdict. Synchronous (no promise) when
 * there is no hook, so that an open server upgrades in the same tick. Bun aborts a request's
 * signal when its client goes away, which aborts the hook's.
 */
export function judge(request: Request, origins: OriginPolicy, authenticate: Authenticate | undefined, timeout: number): Verdict | Promise<Verdict> {
  const origin = request.headers.get("origin") ?? undefined;
  if (!originAllowed(origins, origin, request.headers.get("host") ?? undefined, request)) return refused(403, "", `origin ${origin} not allowed`);
  if (!authenticate) return ACCEPT;
  return authenticateUpgrade(request, authenticate, timeout, request.signal);
}

/** An HTTP refusal of an upgrade: the status, and only what the application chose to say in the body. */
export function refusal(status: number, body = ""): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain", connection: "close" } });
}

import { Close } from "./wire/close-codes.js";

/**
 * What went wrong, as a stable string. Switch on `BimuxError.code`, not on the message.
 *
 * - `timeout`: the call's deadline passed before a reply came.
 * - `closed`: the connection closed (or was closed) before the call settled.
 * - `aborted`: the caller's `AbortSignal` fired.
 * - `remote`: the remote handler threw or rejected.
 * - `unimplemented`: the remote has no handler for the route.
 * - `protocol`: a peer sent bytes that are not a valid bimux message.
 * - `invalid_argument`: the call itself was malformed (route not an int32, data not bytes…).
 * - `overloaded`: too much in flight: the remote refused the call, or the send queue is full.
 * - `too_large`: a message exceeded the size limit.
 * - `unavailable`: the connection could not be established, or the peer stopped answering.
 * - `internal`: a bug or an unexpected failure inside bimux or a handler's reply.
 *
 * The familiar RPC codes (as in gRPC and Connect), for handlers to throw and callers to
 * switch on; bimux itself raises `unauthenticated` and `permission_denied` for refused upgrades:
 * - `not_found`, `already_exists`: the entity asked for is missing, or already there.
 * - `permission_denied`: the caller may not do this; `unauthenticated`: the caller is not known.
 * - `failed_precondition`: the system is not in the state the call needs.
 * - `resource_exhausted`: a quota or resource ran out.
 * - `out_of_range`: a value is past the valid range.
 * - `data_loss`: unrecoverable loss or corruption of data.
 */
export type ErrorCode =
  | "timeout"
  | "closed"
  | "aborted"
  | "remote"
  | "unimplemented"
  | "protocol"
  | "invalid_argument"
  | "overloaded"
  | "too_large"
  | "unavailable"
  | "internal"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "unauthenticated"
  | "failed_precondition"
  | "resource_exhausted"
  | "out_of_range"
  | "data_loss";

const codes: readonly string[] =
    "timeout closed aborted remote unimplemented protocol invalid_argument overloaded too_large unavailable internal not_found already_exists permission_denied unauthenticated failed_precondition resource_exhausted out_of_range data_loss".split(
    " ",
  );

/** True when `code` is one of the {@link ErrorCode} values. */
export function isErrorCode(code: string): code is ErrorCode {
  return codes.includes(code);
}

/** Options for {@link BimuxError}. */
export interface BimuxErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** True when the error was reported by the peer rather than raised locally. */
  remote?: boolean;
  /** The HTTP status of a refused upgrade. */
  status?: number;
}

/**
 * The one error type bimux raises or rejects with. `code` says what happened;
 * `remote` says whether the peer reported it.
 */
export class BimuxError extends Error {
  /** What went wrong. */
  readonly code: ErrorCode;
  /** True when the peer sent this error in an error reply. */
  readonly remote: boolean;
  /** The message without the `[code]` prefix. */
  readonly rawMessage: string;
  /** The HTTP status of a refused WebSocket upgrade (401, 403, 503…), when that is what failed. */
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, options: BimuxErrorOptions = {}) {
    super(`[${code}] ${message}`, options);
    this.code = code;
    this.remote = !!options.remote;
    this.rawMessage = message;
    this.status = options.status;
    this.name = "BimuxError";
  }

  /** Wraps anything thrown into a BimuxError with `code`, keeping BimuxErrors as they are. */
  static from(reason: unknown, code: ErrorCode = "internal"): BimuxError {
    return reason instanceof BimuxError ? reason : new BimuxError(code, describe(reason), { cause: reason });
  }
}

/** A thrown value's message; never throws itself, whatever was thrown (`Object.create(null)`, a throwing getter…). */
function describe(reason: unknown): string {
  try {
    return String(reason instanceof Error ? reason.message : reason);
  } catch {
    return `a thrown value that cannot be printed`;
  }
}

/**
 * The error a refused WebSocket upgrade becomes: 401 `unauthenticated`, 403
 * `permission_denied`, 409 `already_exists` (the peer's id is taken), anything else
 * `unavailable`. It carries the HTTP `status` and the server's message.
 */
export function upgradeRefused(url: string, status: number, message = ""): BimuxError {
  const code: ErrorCode = status === 401 ? "unauthenticated" : status === 403 ? "permission_denied" : status === 409 ? "already_exists" : "unavailable";
  return new BimuxError(code, `${url} refused the upgrade: ${status}${message ? ` ${message}` : ""}`, { status });
}

/**
 * The WebSocket close code for a connection that ends because of `code` (RFC 6455 §7.4.1):
 * what a peer that broke the protocol, sent too much, or would not read is told. A text
 * message, the one `protocol` violation with a code of its own, closes with 1003 instead.
 */
export function closeCodeFor(code: ErrorCode): number {
  return code === "protocol"
    ? Close.PROTOCOL_ERROR
    : code === "too_large"
      ? Close.MESSAGE_TOO_BIG
      : code === "overloaded"
        ? Close.POLICY_VIOLATION
        : code === "unavailable"
          ? Close.GOING_AWAY
          : code === "internal"
            ? Close.INTERNAL_ERROR
            : Close.NORMAL;
}

import { text } from "./text.js";

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
}

// Marks every BimuxError, from whichever copy of bimux made it: Node may load the ESM and
// the CJS build side by side, and a page may have @bimux/core next to @bimux/browser's own.
// Its getter below is @internal and stripped from the published types (stripInternal in the
// tsup configs): BimuxError from @bimux/browser's types (which inline core's) still fits
// @bimux/core's, and the declared type has no symbol index signature.
const BRAND = Symbol.for("bimux.BimuxError");

/**
 * The one error type bimux raises or rejects with. `code` says what happened;
 * `remote` says whether the peer reported it.
 */
export class BimuxError extends Error {
  // Declared, not defined: the constructor makes them, with no field definitions to ship first.
  /** What went wrong. */
  declare readonly code: ErrorCode;
  /** True when the peer sent this error in an error reply. */
  declare readonly remote: boolean;
  /** The message without the `[code]` prefix. */
  declare readonly rawMessage: string;

  constructor(code: ErrorCode, message: string, options: BimuxErrorOptions = {}) {
    super(`[${code}] ${message}`, options);
    this.code = code;
    this.remote = !!options.remote;
    this.rawMessage = message;
    this.name = "BimuxError";
  }

  /** @internal */
  get [BRAND](): boolean {
    return true;
  }

  /**
   * `error instanceof BimuxError` holds for a BimuxError made by any copy of bimux in the
   * process or page, so that its code is never lost between two builds of the package.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    try {
      // Subclasses keep the usual test.
      return this === BimuxError ? (value as { [BRAND]?: unknown } | undefined)?.[BRAND] === true : super[Symbol.hasInstance](value);
    } catch {
      return false; // a Proxy that throws on every read: whatever it is, not ours
    }
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
    return text`a thrown value that cannot be printed`;
  }
}

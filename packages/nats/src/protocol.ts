import { BimuxError, isErrorCode } from "@bimux/core";
import { MsgHdrsImpl, headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";

/**
 * What travels between nodes besides the payload, as NATS headers: a call's payload
 * is the bimux payload, untouched, and these say what to do with it. Header values
 * are short ASCII; an error's message, which can be anything, is the reply's payload.
 */
export const Header = {
  /** `rpc` or `send`. */
  kind: "Bimux-Kind",
  /** The route, in decimal. */
  route: "Bimux-Route",
  /** What is left of the caller's deadline when it sent the request, in whole ms; absent: none. */
  timeout: "Bimux-Timeout",
  /** On a cancel: the reply subject of the call to abort, which names it uniquely. */
  call: "Bimux-Call",
  /** On an error reply: the {@link ErrorCode}. */
  error: "Bimux-Error",
  /** On an error reply: `1` when the peer itself answered with the error (BimuxError.remote). */
  remote: "Bimux-Remote",
  /** On a claim's answer: the node holding the id. */
  node: "Bimux-Node",
} as const;

/** What a call asks the holding node to do. */
export type CallKind = "rpc" | "send";

/** NATS's status code for a request nobody listens for (no responders). */
export const NO_RESPONDERS = 503;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Headers from `entries`. */
export function headersOf(entries: Record<string, string>): MsgHdrs {
  const h = natsHeaders();
  for (const [key, value] of Object.entries(entries)) h.set(key, value);
  return h;
}

/** The headers and payload of an error reply carrying `error`'s code, remoteness and message. */
export function errorReply(error: BimuxError): { headers: MsgHdrs; data: Uint8Array } {
  const entries: Record<string, string> = { [Header.error]: error.code };
  if (error.remote) entries[Header.remote] = "1";
  return { headers: headersOf(entries), data: encoder.encode(error.rawMessage) };
}

/** The error an error reply carries, or undefined when the reply is a success. */
export function errorOf(headers: MsgHdrs | undefined, data: Uint8Array): BimuxError | undefined {
  const code = headers?.get(Header.error);
  if (!code) return undefined;
  // A code this version does not know (a newer node's) still fails the call, as `remote`.
  return new BimuxError(isErrorCode(code) ? code : "remote", decoder.decode(data), { remote: headers?.get(Header.remote) === "1" });
}

/** Bytes NATS counts for a message: its payload and its encoded headers, both within `max_payload`. */
export function messageSize(data: Uint8Array, headers: MsgHdrs | undefined): number {
  // The client's headers encode themselves; the interface does not say so, the class does.
  return data.length + (headers instanceof MsgHdrsImpl ? headers.encode().length : 0);
}

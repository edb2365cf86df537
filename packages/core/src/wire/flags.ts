/**
 * The `flag` values of the envelope. 0–2 are the Go original's; the rest are
 * bimux-ts extensions (see docs/protocol.md), all of which a Go peer drops.
 * 4–6 are only sent to a peer that negotiated them.
 */
export const Flag = {
  request: 0,
  response: 1,
  oneway: 2,
  error: 3,
  cancel: 4,
  ping: 5,
  pong: 6,
} as const;

/**
 * @internal The same values for bimux's own code, as an enum: a bundler writes an
 * enum member's value where it is used, and `switch`-like chains read as numbers.
 */
export enum Wire {
  REQUEST = 0,
  RESPONSE = 1,
  ONEWAY = 2,
  ERROR = 3,
  CANCEL = 4,
  PING = 5,
  PONG = 6,
}

/** WebSocket close codes bimux uses (RFC 6455 §7.4.1). */
export const CloseCode = {
  /** Normal closure. */
  normal: 1000,
  /** The endpoint is going away (server shutdown, page navigation). */
  goingAway: 1001,
  /** The peer violated the protocol: not a valid bimux envelope, unknown flag. */
  protocolError: 1002,
  /** The peer sent a kind of data we do not accept (a text message). */
  unsupportedData: 1003,
  /** No close frame was received (reported, never sent). */
  abnormal: 1006,
  /** The peer broke a policy, such as not reading the answers to its own calls. */
  policyViolation: 1008,
  /** A message was larger than the configured limit. */
  messageTooBig: 1009,
  /** The endpoint hit an unexpected condition. */
  internalError: 1011,
  /** The endpoint is overloaded for now: come back later. */
  tryAgainLater: 1013,
} as const;

/** @internal The codes bimux's own code uses, as an enum (see `Wire` in flags.ts). */
export enum Close {
  NORMAL = 1000,
  GOING_AWAY = 1001,
  PROTOCOL_ERROR = 1002,
  UNSUPPORTED_DATA = 1003,
  ABNORMAL = 1006,
  POLICY_VIOLATION = 1008,
  MESSAGE_TOO_BIG = 1009,
  INTERNAL_ERROR = 1011,
  TRY_AGAIN_LATER = 1013,
}

import type { ErrorCode } from "@bimux/core";

/**
 * The exit status of `bimux call` (and of `listen` when its connection fails) for each
 * error code, so a script can tell a refused login from a missing handler without
 * parsing stderr. A `Record` over every {@link ErrorCode}: a new code in core does not
 * compile here until it has a status. The table is in the package's README.
 */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  unavailable: 3,
  timeout: 4,
  closed: 5,
  unauthenticated: 6,
  permission_denied: 7,
  unimplemented: 8,
  remote: 9,
  invalid_argument: 10,
  overloaded: 11,
  too_large: 12,
  protocol: 13,
  not_found: 14,
  already_exists: 15,
  failed_precondition: 16,
  resource_exhausted: 17,
  out_of_range: 18,
  data_loss: 19,
  internal: 20,
  // Ctrl-C cancels the call: the shell's status for SIGINT.
  aborted: 130,
};

/** Success. */
export const EXIT_OK = 0;
/** A failure outside bimux: a file that cannot be read, a reply that is not in the `--encoding` asked for. */
export const EXIT_FAILURE = 1;
/** The command line is wrong: an unknown option, a missing argument, data that is not in its `--encoding`. */
export const EXIT_USAGE = 2;

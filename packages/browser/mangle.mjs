// Property names that only bimux's own parts use among themselves (the call
// table, dispatcher, keepalive, timers and the muxer's link to them), which the
// browser build shortens as a minifier does local variables: a page downloads
// them on every load, and no caller can see them. Never a name a user can reach
// (scripts/size.mjs checks the package's types for each) nor one of a built-in
// (`add`, `next`, `done` would break Sets and iterators): a mangled name is
// renamed everywhere in the bundle.
export const INTERNAL_NAMES = [
  "giveUp",
  "abandoned",
  "onAbort",
  "reply",
  "report",
  "probe",
  "lost",
  "abortAll",
  "failAll",
  "inFlight",
  "heard",
  "expired",
  "drained",
  "expire",
  "tick",
  "table",
  "slot",
  "timer",
  "owner",
  "end",
  "fail",
  "serve",
  "deliver",
  "drop",
];

export const mangleProps = new RegExp(`^(${INTERNAL_NAMES.join("|")})$`);

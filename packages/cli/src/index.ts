// @bimux/cli: the `bimux` command line, and the dashboard for mounting in your own server.
export { createDashboard } from "./dashboard/handler.js";
export type { DashboardHandler, DashboardOptions, PeerSummary } from "./dashboard/handler.js";
export { run } from "./cli.js";
export type { CliIO } from "./io.js";
export { EXIT_CODES, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";

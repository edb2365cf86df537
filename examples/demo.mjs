// `npm run demo`: with Debian's Chromium at hand, the dashboard story (a page behind NAT,
// called by the server through the dashboard); without it, the Node story (a Node agent
// called by the server), demo-node.mjs.
import { existsSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";
if (existsSync(CHROMIUM) && !process.argv.includes("--node")) {
  await import("./demo-dashboard.mjs");
} else {
  if (!existsSync(CHROMIUM)) console.log(`(no ${CHROMIUM}: the Node story; apt-get install chromium shows the dashboard story)\n`);
  await import("./demo-node.mjs");
}

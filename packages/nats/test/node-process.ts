// A bimux node in a process of its own, for the tests that kill a node: serve on a free
// loopback port (peers named by ?id=), join the cluster on $NATS_URL, print
// {"port","node"} on one line, and run until killed. Bundled by node-process-runner.ts.
import { serve } from "@bimux/node";
import { joinCluster } from "@bimux/nats";
import { queryId } from "../../../test-support/query-id.js";

async function main(): Promise<void> {
  const server = await serve({
    port: 0,
    host: "127.0.0.1",
    path: "/mux",
    authenticate: (req) => queryId(req.url),
  });
  const cluster = await joinCluster(server, { heartbeat: 200, nats: { servers: process.env.NATS_URL!, reconnectTimeWait: 100 } });
  process.stdout.write(`${JSON.stringify({ port: server.port, node: cluster.node })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

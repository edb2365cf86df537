// The nats-server of each test file (test-support/nats-server.ts), and the bimux nodes the tests join to it.
import { afterAll, afterEach } from "vitest";
import { serve, type BimuxError, type BimuxServer, type ServeOptions } from "@bimux/node";
import { joinCluster, type Cluster, type JoinClusterOptions } from "@bimux/nats";
import { NatsServer } from "../../../test-support/nats-server.js";
import { queryId } from "../../../test-support/query-id.js";

export { freePort } from "../../../test-support/nats-server.js";

const servers: NatsServer[] = [];
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

/** The nats-server of this test file, started once. */
let shared: Promise<NatsServer> | undefined;
export function natsServer(): Promise<NatsServer> {
  return (shared ??= NatsServer.start().then((s) => (servers.push(s), s)));
}

/** A nats-server of one test's own (for a test that kills it, or needs a small max_payload). */
export async function ownNatsServer(options: { maxPayload?: number } = {}): Promise<NatsServer> {
  const s = await NatsServer.start(options);
  servers.push(s);
  return s;
}

const running: Array<{ server: BimuxServer; cluster: Cluster }> = [];
/** What the nodes reported through onError: a test fails on any it did not expect. */
export const reported: BimuxError[] = [];
afterEach(async () => {
  for (const { server, cluster } of running.splice(0)) {
    await cluster.close();
    await server.close();
  }
  const errors = reported.splice(0);
  if (errors.length) throw new Error(`the cluster reported: ${errors.map((e) => e.message).join("; ")}`);
});

/** A bimux node: a server on a free loopback port whose peers are named by `?id=`, joined to the cluster on `nats`. */
export async function node(
  nats: NatsServer,
  options: Partial<JoinClusterOptions> = {},
  serveOptions: ServeOptions = {},
): Promise<{ server: BimuxServer; cluster: Cluster; url: string }> {
  const server = await serve({
    port: 0,
    host: "127.0.0.1",
    path: "/mux",
    authenticate: (req) => queryId(req.url),
    ...serveOptions,
  });
  const cluster = await joinCluster(server, {
    heartbeat: 200,
    nats: { servers: nats.url, reconnectTimeWait: 100 },
    onError: (error) => void reported.push(error),
    ...options,
  });
  running.push({ server, cluster });
  return { server, cluster, url: `ws://127.0.0.1:${server.port}/mux` };
}

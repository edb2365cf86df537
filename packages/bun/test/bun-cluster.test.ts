// A cluster of a Bun node and a Node node over a real nats-server (one of this file's own, on a
// free loopback port): fixtures/bun-cluster.ts runs the BUILT @bimux/bun's bunServer joined with
// the BUILT @bimux/nats in Bun, and this file runs the BUILT @bimux/node's serve joined with it in
// Node. A peer connected to either node reaches a peer connected to the other by id; ids are
// unique across both; a peer that leaves the Bun node is gone from the Node node's view.
// Needs nats-server (scripts/env.sh --test installs it); without it this file fails, never skips.
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dial, serve, type BimuxServer, type Muxer } from "../../node/dist/index.js";
import { ID_IN_USE, joinCluster, type Cluster } from "../../nats/dist/index.js";
import { bytes, rejection, text } from "../../../test-support/helpers.js";
import { NatsServer } from "../../../test-support/nats-server.js";
import { queryId } from "../../../test-support/query-id.js";
import { BunFixture, checkBuilt, within, type Line } from "./fixtures/bun-process.js";

let nats: NatsServer | undefined;
let bun: BunFixture | undefined;
let bunNode: { url: string; node: string };
let server: BimuxServer | undefined;
let cluster: Cluster | undefined;
const opened: Muxer[] = [];
/** What the Node node reported through onError: none is expected. */
const reported: string[] = [];

beforeAll(async () => {
  checkBuilt(["core", "node", "bun", "nats"]);
  nats = await NatsServer.start();
  bun = new BunFixture(fileURLToPath(new URL("./fixtures/bun-cluster.ts", import.meta.url)), { NATS_URL: nats.url });
  server = await serve({
    port: 0,
    host: "127.0.0.1",
    path: "/mux",
    authenticate: (request) => queryId(request.url),
    // Route 30 as on the Bun node: calls, through the cluster, route 1 of the peer named by the data.
    handlers: { 30: (_route, data, muxer) => cluster!.rpc(text(data), 1, bytes(`hello from ${muxer.id} on Node`), { timeout: 5000 }) },
  });
  cluster = await within(
    joinCluster(server, { heartbeat: 200, nats: { servers: nats.url, reconnectTimeWait: 100 }, onError: (error) => void reported.push(error.message) }),
    10_000,
    "the Node node joining",
  );
  const listening = await bun.next((l) => l.event === "listening", 20_000);
  bunNode = { url: `ws://127.0.0.1:${listening.port as number}/mux`, node: listening.node as string };
}, 40_000);

afterAll(async () => {
  for (const muxer of opened) muxer.close();
  await within(Promise.all([cluster?.close(), server?.close(), bun?.stop()]), 10_000, "closing the nodes").catch((error: unknown) => console.error(error));
  await nats?.dispose();
}, 20_000);

/** Dials a node as peer `id`, answering route 1 with "<id> got <data>"; closed after the file. */
async function agent(url: string, id: string): Promise<Muxer> {
  const muxer = await within(
    dial(`${url}?id=${encodeURIComponent(id)}`, { handshakeTimeout: 5000, handlers: { 1: (_route, data) => bytes(`${id} got ${text(data)}`) }, onError: () => {} }),
    10_000,
    `dial ${id}`,
  );
  opened.push(muxer);
  return muxer;
}

/** Resolves once `condition` holds, checking every 20 ms; rejects with `what` after `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The Bun node's line about `id` of this kind. */
const told = (event: string, id: string): Promise<Line> => bun!.next((l) => l.event === event && l.id === id);

describe("a Bun node and a Node node in one cluster", () => {
  // Each test also fails if either node reported a failure while it ran (or printed a line that is not an event).
  afterEach(() => {
    expect(bun!.lines.filter((l) => l.event === "error" || l.event === "raw")).toEqual([]);
    expect(reported).toEqual([]);
  });

  it("a peer on the Node node calls a peer on the Bun node by id, and the other way", async () => {
    const onBun = await agent(bunNode.url, "bun-agent");
    const onNode = await agent(`ws://127.0.0.1:${server!.port}/mux`, "node-agent");
    // Each node learns where the other's peer is.
    await until(() => cluster!.locate("bun-agent").length === 1, 10_000, "the Node node learning of bun-agent");
    expect(cluster!.locate("bun-agent")).toEqual([bunNode.node]);
    expect(await told("cluster-join", "node-agent")).toMatchObject({ node: cluster!.node });
    // Node peer -> Node server -> NATS -> Bun node -> Bun peer, and back.
    expect(text(await within(onNode.rpc(30, bytes("bun-agent")), 10_000, "node-agent to bun-agent"))).toBe("bun-agent got hello from node-agent on Node");
    // Bun peer -> Bun server -> NATS -> Node node -> Node peer.
    expect(text(await within(onBun.rpc(30, bytes("node-agent")), 10_000, "bun-agent to node-agent"))).toBe("node-agent got hello from bun-agent on Bun");
    // And the Node node's cluster reaches the Bun node's peer directly.
    expect(text(await within(cluster!.rpc("bun-agent", 1, bytes("direct")), 10_000, "the Node cluster to bun-agent"))).toBe("bun-agent got direct");
  });

  it("keeps an id unique across both: a connection to the Node node with an id the Bun node holds is closed 1008 'id in use'", async () => {
    const holder = await agent(bunNode.url, "held-on-bun");
    await until(() => cluster!.locate("held-on-bun").length === 1, 10_000, "the Node node learning of held-on-bun");
    const newcomer = await agent(`ws://127.0.0.1:${server!.port}/mux`, "held-on-bun");
    const info = await within(newcomer.wait(), 10_000, "the newcomer's close");
    expect([info.code, info.reason]).toEqual([1008, ID_IN_USE]);
    expect(holder.closed).toBe(false);
    expect(text(await within(cluster!.rpc("held-on-bun", 1, bytes("still yours")), 10_000, "the holder"))).toBe("held-on-bun got still yours");
  });

  it("a peer that leaves the Bun node leaves the cluster: calls to it fail unavailable", async () => {
    const leaving = await agent(bunNode.url, "leaving");
    await until(() => cluster!.locate("leaving").length === 1, 10_000, "the Node node learning of leaving");
    leaving.close();
    await until(() => cluster!.locate("leaving").length === 0, 10_000, "the Node node learning that leaving left");
    expect((await rejection(within(cluster!.rpc("leaving", 1, bytes("anyone?"), { timeout: 60_000 }), 10_000, "a call to nobody"))).code).toBe("unavailable");
  });

});

// The cluster's NATS connection: shared or its own, unreachable, closed under it; and its option checks.
import { describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { dial, serve, type BimuxError } from "@bimux/node";
import { joinCluster } from "@bimux/nats";
import { bytes, rejection, until } from "../../../test-support/helpers.js";
import { freePort, natsServer, node, reported } from "./nats-server.js";

describe("the NATS connection", () => {
  it("leaves a shared connection open on close, and ends when that connection is closed under it", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const nc = await connect({ servers: nats.url });
    const server = await serve({ port: 0, host: "127.0.0.1", path: "/mux", authenticate: () => ({ id: "shared-peer" }) });
    try {
      const first = await joinCluster(server, { nats: nc, heartbeat: 200 });
      await first.close();
      expect(nc.isClosed()).toBe(false);
      // A closed cluster fails calls at once rather than at their deadline.
      expect((await rejection(first.rpc("anyone", 1, bytes(""), { timeout: 60_000 }))).code).toBe("unavailable");
      const second = await joinCluster(server, { nats: nc, heartbeat: 200 });
      const client = await dial(`ws://127.0.0.1:${server.port}/mux`, { handlers: { 1: () => bytes("here") } });
      await until(() => a.cluster.locate("shared-peer").length === 1);
      await nc.close();
      // Its peers leave everywhere: no node subscribes for them any more, and the node stops beating.
      await until(() => a.cluster.locate("shared-peer").length === 0, 5000);
      expect((await rejection(a.cluster.rpc("shared-peer", 1, bytes("")))).code).toBe("unavailable");
      expect((await rejection(second.rpc("elsewhere", 1, bytes("")))).code).toBe("unavailable");
      client.close();
    } finally {
      await server.close();
    }
  });

  it("rejects with unavailable when NATS cannot be reached, and invalid_argument for bad options", async () => {
    const server = await serve({ port: 0, host: "127.0.0.1" });
    try {
      const port = await freePort();
      const error = await rejection(joinCluster(server, { nats: { servers: `nats://127.0.0.1:${port}` } }));
      expect(error.code).toBe("unavailable");
      const nats = await natsServer();
      expect((await rejection(joinCluster(server, { nats: { servers: nats.url }, heartbeat: 0 }))).code).toBe("invalid_argument");
      expect((await rejection(joinCluster(server, { nats: { servers: nats.url }, timeout: -1 }))).code).toBe("invalid_argument");
    } finally {
      await server.close();
    }
  });

  it("reports a presence listener's throw to onError, and keeps telling the others", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const seen: string[] = [];
    a.cluster.on("join", () => {
      throw new Error("listener bug");
    });
    a.cluster.on("join", (p) => seen.push(p.id));
    const client = await dial(`${a.url}?id=heard`);
    await until(() => seen.length === 1);
    expect(reported.splice(0).map((e: BimuxError) => e.rawMessage)).toEqual(["listener bug"]);
    client.close();
  });
});

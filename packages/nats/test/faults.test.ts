// Faults, for real: a node killed with SIGKILL, nats-server killed and started again.
import { describe, expect, it } from "vitest";
import { dial, dialReconnecting, type BimuxError } from "@bimux/node";
import { bytes, rejection, text, until } from "../../../test-support/helpers.js";
import { node, ownNatsServer } from "./nats-server.js";
import { nodeProcess } from "./node-process-runner.js";

/** Resolves once `call` succeeds, trying again on failure; fails the test after `ms`. */
async function reachable(call: () => Promise<unknown>, ms = 10_000): Promise<void> {
  await until(() => call().then(() => true, () => false), ms);
}

describe("faults", () => {
  it("a killed node's peers fail fast with unavailable, and are reachable again once their reconnecting client lands on another node", async () => {
    const nats = await ownNatsServer();
    const a = await node(nats);
    const b = await nodeProcess(nats.url);
    const client = await dialReconnecting([`${b.url}?id=mover`, `${a.url}?id=mover`], {
      handlers: { 1: () => bytes("mover here") },
      reconnect: { initialDelay: 50, maxDelay: 200 },
    });
    await until(() => a.cluster.locate("mover").length === 1, 5000);
    expect(a.cluster.locate("mover")).toEqual([b.node]);
    expect(text(await a.cluster.rpc("mover", 1, bytes("")))).toBe("mover here");

    await b.kill();
    // Until the client is back somewhere, every call fails at once, not at its 60 s deadline (the loop is bounded
    // by 10 s, so each failure came well before it): no node subscribes for the id any more.
    const failures: BimuxError[] = [];
    await until(async () => {
      try {
        await a.cluster.rpc("mover", 1, bytes(""), { timeout: 60_000 });
        return true;
      } catch (error) {
        failures.push(error as BimuxError);
        return false;
      }
    }, 10_000);
    expect(failures.length).toBeGreaterThan(0);
    expect(new Set(failures.map((e) => e.code))).toEqual(new Set(["unavailable"]));
    expect(a.cluster.locate("mover")).toEqual([a.cluster.node]);
    // The dead node itself leaves everyone's list once it has missed its heartbeats.
    await until(() => !a.cluster.nodes().includes(b.node), 5000);
    client.close();
  });

  it("a call in the hands of a node that dies fails with unavailable when the node is taken for dead, not at its deadline", async () => {
    const nats = await ownNatsServer();
    const a = await node(nats);
    const b = await nodeProcess(nats.url);
    let entered = false;
    const client = await dial(`${b.url}?id=stuck`, {
      // The peer takes the call and never answers: the answer can only come from node b, which dies.
      handlers: { 2: () => ((entered = true), new Promise<never>(() => {})) },
      onError: () => {},
    });
    await until(() => a.cluster.locate("stuck").length === 1, 5000);
    const call = rejection(a.cluster.rpc("stuck", 2, bytes(""), { timeout: 60_000 }));
    await until(() => entered, 5000);
    await b.kill();
    // Within the test's 20 s, well before the 60 s deadline: once b has missed its heartbeats.
    const error = await call;
    expect([error.code, error.rawMessage]).toEqual(["unavailable", expect.stringContaining(`node "${b.node}" left or stopped answering`)]);
    client.close();
  });

  it("nats-server killed and started again: every call settles by its deadline meanwhile, and the cluster recovers by itself", async () => {
    const nats = await ownNatsServer();
    const a = await node(nats, { node: "node-a" });
    const b = await node(nats, { node: "node-b" });
    const client = await dial(`${b.url}?id=steady`, { handlers: { 1: (_r, data) => data } });
    await until(() => a.cluster.locate("steady").length === 1);
    expect(text(await a.cluster.rpc("steady", 1, bytes("before")))).toBe("before");

    await nats.kill();
    // Calls made while NATS is down: each settles (timeout, or unavailable), none hangs past its deadline.
    const during = Array.from({ length: 20 }, (_, i) => a.cluster.rpc("steady", 1, bytes(`during ${i}`), { timeout: 500 }).then(() => "ok", (e: BimuxError) => e.code));
    const outcomes = await Promise.all(during);
    for (const outcome of outcomes) expect(["timeout", "unavailable"]).toContain(outcome);
    // The local peer stays reachable from its own node all along.
    expect(text(await b.cluster.rpc("steady", 1, bytes("local")))).toBe("local");

    await nats.restart();
    await reachable(() => a.cluster.rpc("steady", 1, bytes("after"), { timeout: 500 }));
    expect(text(await a.cluster.rpc("steady", 1, bytes("after")))).toBe("after");
    // Presence comes back too: node-a lists the peer on node-b again, and node-b node-a.
    await until(() => a.cluster.locate("steady").includes("node-b") && b.cluster.nodes().includes("node-a"), 10_000);
    expect((await rejection(a.cluster.rpc("nobody", 1, bytes("")))).code).toBe("unavailable");
    client.close();
  });

  it("an id taken on two nodes while NATS was down is settled when it is back: one connection keeps it", async () => {
    const nats = await ownNatsServer();
    const a = await node(nats, { claimTimeout: 200 });
    const b = await node(nats, { claimTimeout: 200 });
    await nats.kill();
    // Neither claim can be answered: after claimTimeout both nodes take the id.
    const onA = await dial(`${a.url}?id=split`, { handlers: { 1: () => bytes("on a") } });
    const onB = await dial(`${b.url}?id=split`, { handlers: { 1: () => bytes("on b") } });
    await until(() => a.cluster.locate("split").includes(a.cluster.node) && b.cluster.locate("split").includes(b.cluster.node), 5000);
    await nats.restart();
    await until(() => onA.closed !== onB.closed, 10_000);
    const winner = onA.closed ? "on b" : "on a";
    expect((onA.closed ? onA : onB).closeDetails!.reason).toBe("id in use");
    await reachable(async () => {
      if (text(await a.cluster.rpc("split", 1, bytes(""), { timeout: 500 })) !== winner) throw new Error("not yet");
    });
    expect(text(await b.cluster.rpc("split", 1, bytes("")))).toBe(winner);
    onA.close();
    onB.close();
  });
});

// Calls across nodes over a real nats-server: replies, errors with their codes, deadlines, cancellation, sizes.
import { describe, expect, it } from "vitest";
import { BimuxError, dial, type Muxer, type RpcHandler } from "@bimux/node";
import { bytes, rejection, text, until } from "../../../test-support/helpers.js";
import { natsServer, node } from "./nats-server.js";

/** A client with id `id` on `url`, answering route 1 with "<id>: <data>", closed with the test. */
async function agent(url: string, id: string, handlers: Record<number, RpcHandler> = {}): Promise<Muxer> {
  const echo: RpcHandler = (_route, data) => bytes(`${id}: ${text(data)}`);
  return dial(`${url}?id=${encodeURIComponent(id)}`, { handlers: { 1: echo, ...handlers } });
}

describe("calls across nodes", () => {
  it("reaches a peer on another node with rpc, send and a peer handle, and one on this node directly", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    const got: string[] = [];
    const client = await dial(`${b.url}?id=agent-1`, {
      handlers: { 1: (_r, data) => bytes(`agent-1: ${text(data)}`) },
      onewayHandlers: { 2: (_r, data) => void got.push(text(data)) },
    });
    await until(() => a.cluster.locate("agent-1").length === 1);
    expect(a.cluster.locate("agent-1")).toEqual([b.cluster.node]);
    expect(text(await a.cluster.rpc("agent-1", 1, bytes("from A"), { timeout: 5000 }))).toBe("agent-1: from A");
    expect(text(await b.cluster.rpc("agent-1", 1, bytes("from B")))).toBe("agent-1: from B");
    await a.cluster.send("agent-1", 2, bytes("one-way"));
    // Where a muxer is expected for calls (a typed client built on one), the handle fits.
    const greet = (muxer: Pick<Muxer, "rpc" | "send">) => muxer.rpc(1, bytes("handle"));
    const peer = a.cluster.peer("agent-1");
    expect(text(await greet(peer))).toBe("agent-1: handle");
    await peer.send(2, bytes("handle one-way"));
    await until(() => got.length === 2);
    expect(got).toEqual(["one-way", "handle one-way"]);
    client.close();
  });

  it("fails at once with unavailable when no node holds the peer, and after it disconnects", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    const error = await rejection(a.cluster.rpc("nobody", 1, bytes("x"), { timeout: 60_000 }));
    expect(error.code).toBe("unavailable");
    expect((await rejection(a.cluster.send("nobody", 1, bytes("x")))).code).toBe("unavailable");
    const client = await agent(b.url, "agent-2");
    await until(() => a.cluster.locate("agent-2").length === 1);
    await a.cluster.rpc("agent-2", 1, bytes("x"));
    client.close();
    await until(() => a.cluster.locate("agent-2").length === 0);
    expect((await rejection(a.cluster.rpc("agent-2", 1, bytes("x"), { timeout: 60_000 }))).code).toBe("unavailable");
  });

  it("keeps the code of the peer's error across the hop: remote for a throw, not_found and the others as thrown, unimplemented", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    const client = await agent(b.url, "agent-3", {
      3: () => {
        throw new Error("handler broke");
      },
      4: () => {
        throw new BimuxError("not_found", "no such thing");
      },
    });
    await until(() => a.cluster.locate("agent-3").length === 1);
    const thrown = await rejection(a.cluster.rpc("agent-3", 3, bytes("")));
    expect([thrown.code, thrown.remote, thrown.rawMessage]).toEqual(["remote", true, "handler broke"]);
    const notFound = await rejection(a.cluster.rpc("agent-3", 4, bytes("")));
    expect([notFound.code, notFound.remote, notFound.rawMessage]).toEqual(["not_found", true, "no such thing"]);
    expect((await rejection(a.cluster.rpc("agent-3", 99, bytes("")))).code).toBe("unimplemented");
    expect((await rejection(a.cluster.rpc("agent-3", 1.5, bytes("")))).code).toBe("invalid_argument");
    client.close();
  });

  it("carries the deadline: the peer's handler gets what is left of it and sees its signal abort; the caller gets timeout", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    let seen: { timeout: number | undefined; reason: unknown } | undefined;
    const client = await agent(b.url, "agent-4", {
      5: (_r, _d, _m, ctx) =>
        new Promise((resolve) =>
          ctx.signal.addEventListener("abort", () => {
            seen = { timeout: ctx.timeout, reason: (ctx.signal.reason as BimuxError).code };
            resolve(bytes("too late"));
          }),
        ),
    });
    await until(() => a.cluster.locate("agent-4").length === 1);
    const error = await rejection(a.cluster.rpc("agent-4", 5, bytes(""), { timeout: 300 }));
    expect(error.code).toBe("timeout");
    await until(() => seen !== undefined);
    expect(seen!.timeout).toBeGreaterThan(0);
    expect(seen!.timeout).toBeLessThanOrEqual(300);
    // The peer's own deadline, or the holding node's muxer giving up at the same deadline and cancelling: either ends it.
    expect(["timeout", "aborted"]).toContain(seen!.reason);
    client.close();
  });

  it("keeps one-way messages from one node in order, even when they are not awaited one by one", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    const got: number[] = [];
    const client = await dial(`${b.url}?id=agent-order`, { onewayHandlers: { 9: (_r, data) => void got.push(Number(text(data))) } });
    await until(() => a.cluster.locate("agent-order").length === 1);
    await Promise.all(Array.from({ length: 200 }, (_, i) => a.cluster.send("agent-order", 9, bytes(String(i)))));
    await until(() => got.length === 200);
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
    client.close();
  });

  it("sends no deadline with timeout: Infinity, and the call still completes", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    let told: number | undefined = -1;
    const client = await agent(b.url, "agent-inf", { 8: (_r, _d, _m, ctx) => ((told = ctx.timeout), bytes("done")) });
    await until(() => a.cluster.locate("agent-inf").length === 1);
    expect(text(await a.cluster.rpc("agent-inf", 8, bytes(""), { timeout: Infinity }))).toBe("done");
    expect(told).toBeUndefined();
    expect((await rejection(a.cluster.rpc("agent-inf", 8, bytes(""), { timeout: 0 }))).code).toBe("invalid_argument");
    client.close();
  });

  it("cancels: aborting the caller's signal aborts the peer's handler on the other node", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    let started = false;
    let cancelled: string | undefined;
    const client = await agent(b.url, "agent-5", {
      6: (_r, _d, _m, ctx) => {
        started = true;
        return new Promise((resolve) =>
          ctx.signal.addEventListener("abort", () => {
            cancelled = (ctx.signal.reason as BimuxError).code;
            resolve(bytes("cancelled"));
          }),
        );
      },
    });
    await until(() => a.cluster.locate("agent-5").length === 1);
    const controller = new AbortController();
    const call = a.cluster.rpc("agent-5", 6, bytes(""), { timeout: 60_000, signal: controller.signal });
    await until(() => started);
    controller.abort();
    expect((await rejection(call)).code).toBe("aborted");
    await until(() => cancelled !== undefined);
    expect(cancelled).toBe("aborted");
    expect((await rejection(a.cluster.rpc("agent-5", 6, bytes(""), { signal: controller.signal }))).code).toBe("aborted");
    client.close();
  });

  it("refuses a request or a reply above the NATS server's max_payload with too_large, never cut", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    const max = a.cluster.nats.info!.max_payload;
    const client = await agent(b.url, "agent-6", { 7: (_r, data) => new Uint8Array(Number(text(data))) });
    await until(() => a.cluster.locate("agent-6").length === 1);
    const request = await rejection(a.cluster.rpc("agent-6", 1, new Uint8Array(max + 1)));
    expect(request.code).toBe("too_large");
    expect(request.rawMessage).toContain(`max_payload of ${max}`);
    const reply = await rejection(a.cluster.rpc("agent-6", 7, bytes(String(max + 1))));
    expect(reply.code).toBe("too_large");
    // Just below the limit, it goes through whole.
    expect((await a.cluster.rpc("agent-6", 7, bytes(String(max - 1024)))).length).toBe(max - 1024);
    client.close();
  });

  it("reaches peers whose ids are not subject tokens (dots, spaces, wildcards, non-ASCII)", async () => {
    const nats = await natsServer();
    const a = await node(nats);
    const b = await node(nats);
    const ids = ["a.b", "with space", "*", ">", "ünï", "~x"];
    const clients = await Promise.all(ids.map((id) => agent(b.url, id)));
    await until(() => ids.every((id) => a.cluster.locate(id).length === 1));
    for (const id of ids) expect(text(await a.cluster.rpc(id, 1, bytes("hi")))).toBe(`${id}: hi`);
    expect((await rejection(a.cluster.rpc("a.*", 1, bytes("")))).code).toBe("unavailable");
    for (const c of clients) c.close();
  });
});

// A bimux server's lifecycle: starting with bad options, and closing, with clients and hooks in flight.
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { dial, Muxer, serve } from "@bimux/node";
import { bytes, rejection, sleep, until } from "../../../../test-support/helpers.js";
import { start } from "../fixtures/servers.js";
import { caught, rawUpgrade } from "../fixtures/raw.js";

describe("server lifecycle", () => {
  it("serve() with an invalid muxer option does not leave upgraded sockets open with an unhandled rejection", async () => {
    let server: Awaited<ReturnType<typeof serve>> | undefined;
    let outcome = "serve refused the options";
    const unhandled = await caught("unhandledRejection", async () => {
      try {
        server = await serve({ port: 0, host: "127.0.0.1", timeout: -1 });
      } catch {
        return;
      }
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
      ws.on("error", () => {});
      outcome = await new Promise<string>((resolve) => {
        ws.on("close", () => resolve("closed"));
        setTimeout(() => resolve(ws.readyState === WebSocket.OPEN ? "left open" : "other"), 500);
      });
      ws.terminate();
    });
    await server?.close();
    expect(unhandled.map(String)).toEqual([]);
    expect(outcome).not.toBe("left open");
  });

  it("rejects the calls of every client when the server shuts down, and ends the connections iterator", async () => {
    const { server, url } = await start({ onRpc: () => new Promise<Uint8Array>(() => {}) });
    const clients = await Promise.all([dial(url), dial(url), dial(url)]);
    const calls = clients.map((c) => rejection(c.rpc(1, bytes(""))));
    const iterated: Muxer[] = [];
    const iteration = (async () => {
      for await (const m of server.connections) iterated.push(m);
    })();
    while (iterated.length < 3) await new Promise((r) => setTimeout(r, 5));
    expect(server.peers.size).toBe(3);
    await server.close();
    expect((await Promise.all(calls)).map((e) => e.code)).toEqual(["closed", "closed", "closed"]);
    expect((await clients[0]!.wait()).code).toBe(1001);
    await iteration;
    expect(iterated).toHaveLength(3);
    expect(server.peers.size).toBe(0);
  });

  it("server.close() settles while an authenticate hook is still pending", async () => {
    const server = await serve({ port: 0, host: "127.0.0.1", path: "/mux", authenticate: () => new Promise<boolean>(() => {}) });
    const sock = connect(server.port, "127.0.0.1");
    sock.on("error", () => {});
    await new Promise((r) => sock.once("connect", r));
    sock.write(rawUpgrade("/mux"));
    await sleep(50);
    const outcome = await Promise.race([server.close().then(() => "closed"), sleep(3000).then(() => "hung")]);
    sock.destroy();
    expect(outcome).toBe("closed");
  });

  it("server.close() resolves after an authenticate hook rejected with an unprintable value", async () => {
    const server = await serve({ port: 0, host: "127.0.0.1", authenticate: () => Promise.reject(Object.create(null)), onError: () => {} });
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, { handshakeTimeout: 300 });
    ws.on("error", () => {});
    await new Promise((r) => setTimeout(r, 500));
    const closed = await Promise.race([server.close().then(() => "closed"), new Promise((r) => setTimeout(() => r("hung"), 4000))]);
    expect(closed).toBe("closed");
  });

  it("close() called again from an onClose hook while closing returns the same promise, and closes once", async () => {
    let closes = 0;
    let again: Promise<void> | undefined;
    const server = await serve({
      port: 0,
      host: "127.0.0.1",
      onClose: () => {
        closes++;
        again ??= server.close();
      },
    });
    const client = await dial(`ws://127.0.0.1:${server.port}/`);
    await until(() => server.peers.size === 1);
    const first = server.close();
    await first;
    expect(again).toBe(first);
    expect(closes).toBe(1);
    await client.wait();
  });
});

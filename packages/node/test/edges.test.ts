import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { dial, dialReconnecting, serve, wsDuplex } from "../src/index.js";
import { rejection, sleep, until } from "../../../test-support/helpers.js";
import { nextPeer, start } from "./servers.js";

/** Collects what reaches process-level handlers while `body` runs (and 100 ms after). */
async function caught(event: "uncaughtException" | "unhandledRejection", body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const on = (e: unknown) => void seen.push(e);
  process.on(event, on);
  try {
    await body();
    await sleep(100);
  } finally {
    process.off(event, on);
  }
  return seen;
}

const rawUpgrade = (path: string, origin?: string) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${origin ? `Origin: ${origin}\r\n` : ""}` +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

const slowAuth = () => new Promise<boolean>((r) => setTimeout(() => r(true), 300));

describe("edge cases of the Node transports", () => {
  it("aborting dial() mid-handshake rejects with aborted and throws nothing uncaught", async () => {
    const { url } = await start({ authenticate: slowAuth });
    const errors = await caught("uncaughtException", async () => {
      const controller = new AbortController();
      const dialing = dial(url, { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      expect((await rejection(dialing)).code).toBe("aborted");
    });
    expect(errors.map(String)).toEqual([]);
  });

  it("aborting a reconnecting dial mid-handshake throws nothing uncaught, and rejects with aborted", async () => {
    const { url } = await start({ authenticate: slowAuth });
    let code: string | undefined;
    const errors = await caught("uncaughtException", async () => {
      const controller = new AbortController();
      const dialing = dialReconnecting(url, { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      code = (await rejection(dialing)).code;
    });
    expect(errors.map(String)).toEqual([]);
    expect(code).toBe("aborted");
  });

  it("dialReconnecting with an already aborted signal does not connect", async () => {
    const { server, url } = await start();
    const outcome = await dialReconnecting(url, { signal: AbortSignal.abort() }).then(
      (client) => (client.close(), "connected"),
      (e) => e.code,
    );
    expect(outcome).toBe("aborted");
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

  it("a client resetting right after a refused (403) upgrade does not crash the server", async () => {
    const { url } = await start();
    const port = +new URL(url).port;
    const errors = await caught("uncaughtException", async () => {
      for (let i = 0; i < 30; i++) {
        const sock = connect(port, "127.0.0.1");
        sock.on("error", () => {});
        await new Promise((r) => sock.once("connect", r));
        sock.write(rawUpgrade("/mux", "https://evil.example"));
        sock.resetAndDestroy();
        await sleep(20);
      }
    });
    expect(errors.map(String)).toEqual([]);
  });

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

  it("with two bimux servers on one HTTP server, an unknown path gets 404, not a hung handshake", async () => {
    const http = createServer();
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const port = (http.address() as AddressInfo).port;
    const a = await serve({ server: http, path: "/a" });
    const b = await serve({ server: http, path: "/b" });
    try {
      const error = await rejection(dial(`ws://127.0.0.1:${port}/c`, { handshakeTimeout: 1000 }));
      expect(error.message).toContain("404");
    } finally {
      await a.close();
      await b.close();
      http.closeAllConnections();
      await Promise.race([new Promise((r) => http.close(r)), sleep(500)]);
    }
  });

  it("the server's own close info says 1009 for an inbound message over the limit", async () => {
    const { server, url } = await start({ maxMessageSize: 1024 });
    const client = await dial(url);
    const peer = await nextPeer(server);
    void client.send(1, new Uint8Array(4096)).catch(() => {});
    const info = await peer.wait();
    expect({ code: info.code, error: info.error?.code }).toEqual({ code: 1009, error: "too_large" });
  });

  it("close() with a code ws refuses still ends the connection", async () => {
    const { server, url } = await start({ keepalive: false });
    const client = await dial(url, { keepalive: false, onError: () => {} });
    const peer = await nextPeer(server);
    client.close(1005, "bye"); // 1005 may not go on the wire: ws.close throws
    expect(client.closed).toBe(true);
    const outcome = await Promise.race([peer.wait().then(() => "peer saw close"), sleep(1500).then(() => "socket still open")]);
    expect(outcome).toBe("peer saw close");
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

  it("a WebSocket duplex refuses a send once its socket is closing, so the call fails instead of vanishing", async () => {
    const { url } = await start({ keepalive: false });
    const ws = new WebSocket(url);
    await new Promise((r) => ws.once("open", r));
    const duplex = wsDuplex(ws);
    duplex.open({ message: () => {}, closed: () => {} });
    ws.close(1000, "bye"); // CLOSING until the server answers
    expect(() => duplex.send(new Uint8Array([8, 1]))).toThrow(/not open/);
  });

  it("an authenticate hook rejecting with a value String() cannot convert still answers 500", async () => {
      const errors: unknown[] = [];
      const { url } = await start({
        authenticate: () => Promise.reject(Object.create(null)),
        onError: (e) => errors.push(e),
      });
      const status = await new Promise<number | string>((resolve) => {
        const ws = new WebSocket(url, { handshakeTimeout: 1000 });
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("open", () => resolve("open"));
        ws.on("error", (e) => resolve(e.message));
      });
      expect(status).toBe(500);
    });

  it("an abandoned iterator's return() gives up its pending next(); the next connection goes to a live consumer", async () => {
    const { server, url } = await start();
    const it1 = server.connections[Symbol.asyncIterator]();
    void it1.next(); // e.g. Promise.race([it.next(), timeout]) that timed out
    await it1.return!();
    const client = await dial(url);
    const it2 = server.connections[Symbol.asyncIterator]();
    const got = await Promise.race([it2.next(), new Promise((r) => setTimeout(() => r("none"), 300))]);
    expect(got).not.toBe("none");
    client.close();
  });

  it("server.close() resolves after an authenticate hook rejected with an unprintable value", async () => {
    const server = await serve({ port: 0, host: "127.0.0.1", authenticate: () => Promise.reject(Object.create(null)), onError: () => {} });
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, { handshakeTimeout: 300 });
    ws.on("error", () => {});
    await new Promise((r) => setTimeout(r, 500));
    const closed = await Promise.race([server.close().then(() => "closed"), new Promise((r) => setTimeout(() => r("hung"), 4000))]);
    expect(closed).toBe("closed");
  });
});

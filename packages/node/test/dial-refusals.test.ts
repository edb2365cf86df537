// @bimux/node's dial and dialReconnecting against servers that refuse, stall or go away: typed refusals, the handshake deadline, and failover over several servers.
import { createServer as createTcp, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { dial, dialReconnecting, serve, type BimuxServer, type ConnectionState } from "../src/index.js";
import { bytes, rejection, text, until } from "../../../test-support/helpers.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Parameters<typeof serve>[0] = {}): Promise<{ server: BimuxServer; url: string }> {
  const s = await serve({ host: "127.0.0.1", port: 0, path: "/mux", keepalive: false, ...options });
  cleanups.push(() => s.close());
  return { server: s, url: `ws://127.0.0.1:${s.port}/mux` };
}

/** A TCP server that accepts connections and never answers: a dead upstream behind a load balancer. */
async function silent(): Promise<{ url: string; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const tcp: TcpServer = createTcp((socket) => {
    sockets.push(socket);
    // Read (and drop) what the client sends, so that its hanging up is noticed.
    socket.resume();
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => tcp.close(() => resolve()));
  });
  return { url: `ws://127.0.0.1:${(tcp.address() as AddressInfo).port}/mux`, sockets };
}

describe("dial's handshake", () => {
  it("gives up on a server that accepts TCP but never answers the upgrade, after handshakeTimeout", async () => {
    const { url, sockets } = await silent();
    const error = await rejection(dial(url, { handshakeTimeout: 200, keepalive: false }));
    expect(error.code).toBe("unavailable");
    expect(error.rawMessage).toContain("no answer to the handshake within 200 ms");
    // The connection it opened is not left behind.
    await until(() => sockets.length === 1 && sockets[0]!.destroyed);
  });

  it("refuses a handshakeTimeout that is not a positive number", async () => {
    const error = await rejection(dial("ws://127.0.0.1:1/mux", { handshakeTimeout: 0 }));
    expect([error.code, error.rawMessage]).toEqual(["invalid_argument", "handshakeTimeout must be a positive number of ms, got 0"]);
  });
});

describe("refused upgrades are typed", () => {
  const verdicts = {
    "Bearer nobody": { status: 401 as const, message: "who are you" },
    "Bearer banned": { status: 403 as const, message: "not you" },
  };

  it("401 is unauthenticated and 403 permission_denied, with the status and the server's message", async () => {
    const { url } = await server({
      authenticate: (request) => verdicts[request.headers.authorization as keyof typeof verdicts] ?? true,
    });
    const unauthenticated = await rejection(dial(url, { headers: { authorization: "Bearer nobody" } }));
    expect([unauthenticated.code, unauthenticated.status, unauthenticated.rawMessage]).toEqual([
      "unauthenticated",
      401,
      `${url} refused the upgrade: 401 who are you`,
    ]);
    const denied = await rejection(dial(url, { headers: { authorization: "Bearer banned" } }));
    expect([denied.code, denied.status]).toEqual(["permission_denied", 403]);
  });

  it("another status is unavailable, with the status", async () => {
    const { server: s, url } = await server();
    const other = `ws://127.0.0.1:${s.port}/elsewhere`;
    const error = await rejection(dial(other));
    expect([error.code, error.status]).toEqual(["unavailable", 404]);
    expect((await dial(url)).closed).toBe(false);
  });

  it("a reconnecting client stops at a 401 or 403: ready, waiting calls and wait() settle with that error", async () => {
    let attempts = 0;
    const { url } = await server({
      authenticate: () => {
        attempts++;
        return attempts === 1 ? true : { status: 403, message: "revoked" };
      },
    });
    const states: ConnectionState[] = [];
    const client = await dialReconnecting(url, { reconnect: { initialDelay: 1, maxDelay: 5, queueLimit: 10 }, onStateChange: (s) => void states.push(s) });
    cleanups.push(() => client.close());
    client.muxer!.close(4000, "dropped by the test");
    const waiting = client.rpc(1, bytes("x"), { timeout: 60_000 });
    const info = await client.wait();
    expect([info.error?.code, info.error?.status]).toEqual(["permission_denied", 403]);
    expect((await rejection(waiting)).code).toBe("permission_denied");
    expect((await rejection(client.ready())).code).toBe("permission_denied");
    expect(attempts).toBe(2);
    expect(states.at(-1)).toBe("closed");
  });

  it("a first reconnecting dial refused with 401 rejects with unauthenticated instead of retrying", async () => {
    let attempts = 0;
    const { url } = await server({ authenticate: () => (attempts++, false) });
    const error = await rejection(dialReconnecting(url, { reconnect: { initialDelay: 1 } }));
    expect([error.code, error.status, attempts]).toEqual(["unauthenticated", 401, 1]);
  });

  it("shouldRetry lets the application retry refusals anyway", async () => {
    let attempts = 0;
    const { url } = await server({ authenticate: () => (++attempts < 3 ? { status: 401 } : true) });
    const client = await dialReconnecting(url, { reconnect: { initialDelay: 1, maxDelay: 2, shouldRetry: () => true } });
    cleanups.push(() => client.close());
    expect([client.state, attempts]).toEqual(["open", 3]);
  });
});

describe("dialReconnecting over several servers", () => {
  it("takes a list of URLs and fails over to the next when the one it was on goes away", async () => {
    const a = await server({ onRpc: () => bytes("a") });
    const b = await server({ onRpc: () => bytes("b") });
    const client = await dialReconnecting([a.url, b.url], { reconnect: { initialDelay: 1, maxDelay: 5 } });
    cleanups.push(() => client.close());
    expect(text(await client.rpc(1, bytes("")))).toBe("a");
    await a.server.close();
    await until(() => client.state === "open" && b.server.peers.size === 1);
    expect(text(await client.rpc(1, bytes("")))).toBe("b");
  });

  it("takes a function that names the server of each attempt", async () => {
    const b = await server({ onRpc: () => bytes("b") });
    const { url: dead } = await silent();
    const asked: number[] = [];
    const client = await dialReconnecting(
      (attempt) => {
        asked.push(attempt);
        return attempt === 0 ? dead : b.url;
      },
      { handshakeTimeout: 100, reconnect: { initialDelay: 1 } },
    );
    cleanups.push(() => client.close());
    expect(asked).toEqual([0, 1]);
    expect(text(await client.rpc(1, bytes("")))).toBe("b");
  });
});

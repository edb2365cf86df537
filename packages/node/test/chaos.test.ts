/**
 * Chaos over real WebSockets on 127.0.0.1: 10,000 calls in flight in both directions
 * at once, handlers that answer late, never, or by throwing, and connections that go
 * away at random moments: closed by the client, by the server, or cut at the TCP
 * level. Every call must settle with a reply or an expected error, one on a dropped
 * connection through the drop and not at its timeout, and nothing may be left behind:
 * no calls or handlers counted, no timers, no sockets, no listeners on the callers'
 * AbortSignals. How long calls took to settle after a drop is printed, not asserted:
 * on a loaded machine it is the machine that is measured.
 *
 * CHAOS_SEED=<n> replays a run's random choices (the seed is printed; network timing still varies).
 */
import { getEventListeners, setMaxListeners } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BimuxError, dial, serve, type BimuxServer, type Muxer, type RpcHandler } from "../src/index.js";

const ROUNDS = 4;
const CLIENTS = 8;
/** Calls each way on each connection: 8 clients x 2 directions x 625 = 10,000 in flight per round. */
const CALLS_PER_DIRECTION = 625;
/**
 * The timeout of every call not given a short one. A call on a dropped connection must settle
 * through the drop, never by this timeout: an ordering the outcome codes check ("timeout" is
 * wrong for these calls), not a measured time. Well below the test's own limit, so that a
 * call left waiting for it fails the test with its code rather than by that limit.
 */
const LONG_TIMEOUT_MS = 10_000;
// The test's own limit is only for a hang: four rounds take about 10 s on an idle machine,
// and several times that on a loaded one; 120 s leaves room for rounds that wait out LONG_TIMEOUT_MS.

const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : Date.now() % 2 ** 31;
function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(seed);
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Routes, the same on both sides. 5 has no handler anywhere.
const ECHO_WITH_SIGNAL = 0; // echoes after 0-40 ms, giving up when its signal aborts
const ECHO = 1; // echoes after 0-40 ms, whatever happens
const NEVER = 2; // never answers
const THROWS = 3; // throws at once
const REJECTS = 4; // rejects after 0-20 ms
const UNIMPLEMENTED = 5;

const handlers: Record<number, RpcHandler> = {
  [ECHO_WITH_SIGNAL]: (_route, data, _muxer, ctx) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      };
      const timer = setTimeout(() => {
        ctx.signal.removeEventListener("abort", onAbort);
        resolve(data);
      }, between(0, 40));
      ctx.signal.addEventListener("abort", onAbort, { once: true });
    }),
  [ECHO]: (_route, data) => new Promise<Uint8Array>((resolve) => setTimeout(() => resolve(data), between(0, 40))),
  [NEVER]: () => new Promise<Uint8Array>(() => {}),
  [THROWS]: () => {
    throw new Error("handler blew up");
  },
  [REJECTS]: () => new Promise<Uint8Array>((_resolve, reject) => setTimeout(() => reject(new Error("handler gave up")), between(0, 20))),
};

type DropKind = "client.close()" | "peer.close()" | "socket.destroy()" | "socket.resetAndDestroy()";
const DROPS: DropKind[] = ["client.close()", "peer.close()", "socket.destroy()", "socket.resetAndDestroy()"];

interface Connection {
  name: string;
  client: Muxer;
  peer: Muxer;
  socket: Socket;
  drop?: DropKind;
  droppedAt?: number;
  pendingAtDrop?: number;
}

interface Call {
  connection: Connection;
  route: number;
  payload: Uint8Array;
  shortTimeout: boolean;
  controller: AbortController | undefined;
  settledAt?: number;
  outcome?: { value: Uint8Array } | { error: unknown };
}

const figures = {
  calls: 0,
  drops: new Map<DropKind, number>(),
  outcomes: new Map<string, number>(),
  maxSettleAfterDrop: 0,
  maxInFlight: 0,
  minPendingAtDrop: Number.POSITIVE_INFINITY,
  roundMs: [] as number[],
};
const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

let http: Server;
let server: BimuxServer;
let url: string;
/** Server-side ends of the connections, by the name the client dialled with. */
const accepted = new Map<string, { peer: Muxer; socket: Socket }>();

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  process.on("uncaughtException", onUnhandled);
  http = createServer((_req, res) => res.end());
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  server = await serve({
    server: http,
    path: "/chaos",
    handlers,
    onConnection: (peer: Muxer, request: IncomingMessage) => {
      const name = new URL(request.url ?? "/", "http://x").searchParams.get("name") ?? "";
      peer.id = name;
      accepted.set(name, { peer, socket: request.socket as Socket });
    },
  });
  url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/chaos`;
});

afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  process.off("uncaughtException", onUnhandled);
  await server?.close();
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  const outcomes = [...figures.outcomes].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
  console.log(
    [
      `chaos: seed ${seed}; ${figures.calls} calls in ${figures.roundMs.length} rounds, ${figures.maxInFlight} in flight at once`,
      `chaos: drops ${[...figures.drops].map(([k, v]) => `${k} x${v}`).join(", ")}; fewest calls still pending on a connection when it was dropped: ${figures.minPendingAtDrop}`,
      `chaos: outcomes ${outcomes.join(", ")}`,
      `chaos: slowest settle after a drop ${figures.maxSettleAfterDrop.toFixed(1)} ms; rounds took ${figures.roundMs.map((ms) => ms.toFixed(0)).join(", ")} ms`,
    ].join("\n"),
  );
});

const activeCount = (type: string) => process.getActiveResourcesInfo().filter((r) => r === type).length;

/** Waits (bounded) until `check` holds, and returns whether it did. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (!check()) {
    if (performance.now() > until) return false;
    await sleep(10);
  }
  return true;
}

async function connect(round: number, index: number): Promise<Connection> {
  const name = `r${round}c${index}`;
  // Half the clients negotiate the bimux-ts extensions (cancel, timeouts, pings), half speak the base protocol as Go does.
  const client = await dial(`${url}?name=${name}`, { handlers, extensions: index % 2 === 0 });
  expect(client.extensions).toBe(index % 2 === 0);
  expect(await eventually(() => accepted.has(name), 2_000), `server never saw ${name}`).toBe(true);
  const { peer, socket } = accepted.get(name)!;
  accepted.delete(name);
  return { name, client, peer, socket };
}

function expectedCodes(call: Call): string[] {
  const codes = ["closed"];
  if (call.shortTimeout) codes.push("timeout");
  if (call.controller?.signal.aborted) codes.push("aborted");
  if (call.route === THROWS || call.route === REJECTS) codes.push("remote");
  if (call.route === UNIMPLEMENTED) codes.push("unimplemented");
  return codes;
}

function drop(connection: Connection, kind: DropKind, calls: Call[]): void {
  connection.pendingAtDrop = calls.filter((c) => c.connection === connection && !c.outcome).length;
  connection.drop = kind;
  connection.droppedAt = performance.now();
  bump(figures.drops, kind);
  switch (kind) {
    case "client.close()":
      connection.client.close();
      return;
    case "peer.close()":
      connection.peer.close(1001, "chaos");
      return;
    case "socket.destroy()":
      connection.socket.destroy();
      return;
    case "socket.resetAndDestroy()":
      connection.socket.resetAndDestroy();
      return;
  }
}

describe("chaos over real WebSockets", () => {
  it(`settles ${CLIENTS * 2 * CALLS_PER_DIRECTION} calls in flight per round through random drops, and leaves nothing behind`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const started = performance.now();
      // What is running before the round, to compare with after it.
      await sleep(20);
      const timersBefore = activeCount("Timeout");
      const socketsBefore = activeCount("TCPSocketWrap");

      const connections = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connect(round, i)));

      const calls: Call[] = [];
      const controllers: AbortController[] = [];
      const issue = (connection: Connection, from: Muxer) => {
        let controller: AbortController | undefined;
        for (let i = 0; i < CALLS_PER_DIRECTION; i++) {
          // One signal for every 25 calls, for a third of them; some of those get aborted.
          if (i % 25 === 0) {
            controller = random() < 0.33 ? new AbortController() : undefined;
            if (controller) {
              // Shared on purpose: each call must take its listener away again.
              setMaxListeners(CALLS_PER_DIRECTION, controller.signal);
              controllers.push(controller);
            }
          }
          const route = between(0, 5);
          const shortTimeout = random() < 0.1;
          const payload = new TextEncoder().encode(`${connection.name}/${from === connection.client ? "c" : "s"}/${i}`);
          const call: Call = { connection, route, payload, shortTimeout, controller };
          calls.push(call);
          from
            .rpc(route, payload, { timeout: shortTimeout ? between(5, 60) : LONG_TIMEOUT_MS, signal: controller?.signal })
            .then(
              (value) => (call.outcome = { value }),
              (error: unknown) => (call.outcome = { error }),
            )
            .finally(() => (call.settledAt = performance.now()));
        }
      };
      for (const c of connections) {
        issue(c, c.client);
        issue(c, c.peer);
      }
      figures.calls += calls.length;
      figures.maxInFlight = Math.max(figures.maxInFlight, calls.filter((c) => !c.outcome).length);
      expect(calls.filter((c) => !c.outcome)).toHaveLength(CLIENTS * 2 * CALLS_PER_DIRECTION);

      // Drop every connection at a random moment, each method several times over the rounds.
      const kinds = connections.map((_, i) => DROPS[(round + i) % DROPS.length]!);
      const schedule = connections.map((c, i) => ({ connection: c, kind: kinds[i]!, at: between(10, 200) })).sort((a, b) => a.at - b.at);
      const aborts = controllers.filter(() => random() < 0.3).map((controller) => ({ controller, at: between(0, 200) }));
      const t0 = performance.now();
      for (const { controller, at } of aborts) setTimeout(() => controller.abort(new Error("caller gave up")), at);
      for (const step of schedule) {
        const wait = step.at - (performance.now() - t0);
        if (wait > 0) await sleep(wait);
        drop(step.connection, step.kind, calls);
      }

      // Every call settles: by its own timeout at the latest, every call has (see expectedCodes
      // for which may settle that way); one still pending after it was never settled at all.
      const allSettled = await eventually(() => calls.every((c) => c.outcome), LONG_TIMEOUT_MS + 2_000);
      const hung = calls.filter((c) => !c.outcome);
      expect(
        allSettled,
        `${hung.length} calls still pending after their own timeout, e.g. route ${hung[0]?.route} on ${hung[0]?.connection.name} (${hung[0]?.connection.drop})`,
      ).toBe(true);
      await sleep(0); // let the .finally() stamps land

      let slowest = 0;
      for (const call of calls) {
        const { outcome, connection } = call;
        if (!outcome) continue;
        if ("value" in outcome) {
          bump(figures.outcomes, "replied");
          expect([ECHO, ECHO_WITH_SIGNAL], `route ${call.route} replied`).toContain(call.route);
          expect(Buffer.from(outcome.value).equals(Buffer.from(call.payload)), "a reply went to the wrong call").toBe(true);
        } else {
          expect(outcome.error, String(outcome.error)).toBeInstanceOf(BimuxError);
          const { code } = outcome.error as BimuxError;
          bump(figures.outcomes, code);
          expect(expectedCodes(call), `${code} for route ${call.route} on ${connection.name} (${connection.drop})`).toContain(code);
        }
        if (call.settledAt! >= connection.droppedAt!) slowest = Math.max(slowest, call.settledAt! - connection.droppedAt!);
      }
      figures.maxSettleAfterDrop = Math.max(figures.maxSettleAfterDrop, slowest);
      for (const c of connections) figures.minPendingAtDrop = Math.min(figures.minPendingAtDrop, c.pendingAtDrop!);

      // Nothing left behind: every muxer closed and empty, the server forgot the peers,
      // callers' signals have no listeners, and no timers or sockets outlive the round.
      for (const c of connections) {
        for (const [side, muxer] of [["client", c.client], ["server", c.peer]] as const) {
          expect(await eventually(() => muxer.closed, 2_000), `${side} of ${c.name} (${c.drop}) never closed`).toBe(true);
          expect(muxer.pendingCalls, `${side} pendingCalls of ${c.name}`).toBe(0);
          expect(muxer.servingCalls, `${side} servingCalls of ${c.name}`).toBe(0);
          await expect(muxer.rpc(ECHO, new Uint8Array())).rejects.toMatchObject({ code: "closed" });
        }
      }
      expect(await eventually(() => server.peers.size === 0, 2_000), "the server still lists dropped peers").toBe(true);
      for (const controller of controllers) expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
      const timersSettled = await eventually(() => activeCount("Timeout") <= timersBefore, 2_000);
      expect(timersSettled, `timers: ${timersBefore} before the round, ${activeCount("Timeout")} after`).toBe(true);
      const socketsSettled = await eventually(() => activeCount("TCPSocketWrap") <= socketsBefore, 2_000);
      expect(socketsSettled, `sockets: ${socketsBefore} before the round, ${activeCount("TCPSocketWrap")} after`).toBe(true);

      figures.roundMs.push(performance.now() - started);
    }
    expect(unhandled).toEqual([]);
  }, 120_000);
});

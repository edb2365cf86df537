// The hardening issue's attacks, on the wire: each `describe` is one defect, attacked with a
// raw `ws` client that writes frames and (mostly) never reads, and asserts what the hardened
// server must do, with its limits set small so that they trigger fast. Behaviour only: no heap
// figures and no durations (bench/attacks.mjs measures those). Every test also checks that a
// well-behaved client on the same server is still answered after the attack.
//
// Written before the fixes: these tests fail on the code they were written against, each for
// the defect it describes. The options they pass are the planned names (PlannedOptions below).
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { BimuxError, dial, encodeFrame, type AuthResult, type BimuxServer, type Muxer, type ServeOptions } from "../../src/index.js";
import { bytes, rejection, sleep, text } from "../../../../test-support/helpers.js";
import { nextPeer, start as startServer } from "../fixtures/servers.js";
import { attack, closeCode, eventually, flood, frames, masked, upgradeStatus, type Attacker } from "../../../../test-support/attackers.js";

/** The server options the hardening adds, by their planned names; until then serve() ignores them. */
interface PlannedOptions extends ServeOptions {
  /** Cap on outbound calls waiting for a reply, per connection; past it rpc() rejects `overloaded`. */
  maxPendingCalls?: number;
  /** Server-wide budget of bytes held in unfinished inbound messages. */
  maxInboundBytes?: number;
  /** Ms an unfinished inbound message may go without progress. */
  partialMessageTimeout?: number;
  /** What a connection taking an id that is live gets: refused (the default), or it replaces the older one. */
  duplicateIds?: "refuse" | "replace";
  /** Ms the authenticate hook has before the upgrade is answered 503. Default 10 000. */
  authenticateTimeout?: number;
}

const start = (options: PlannedOptions): Promise<{ server: BimuxServer; url: string }> => startServer(options);

/** An echo route, for the well-behaved client. */
const handlers = { 1: (_route: number, data: Uint8Array) => data };

/** A well-behaved client of `url` (dialed before the attack starts), answering route 3 with `name`. */
const wellBehaved = (url: string, name = "normal"): Promise<Muxer> =>
  dial(url, { handlers: { 3: () => bytes(name) }, onError: () => {} });

/** The well-behaved client is still answered. */
async function expectServed(client: Muxer): Promise<void> {
  expect(client.closed).toBe(false);
  expect(text(await client.rpc(1, bytes("still here"), { timeout: 3000 }))).toBe("still here");
}

// A big request number makes each answer as large as an answer gets (a ten-byte varint):
// fewer frames fill the kernel's socket buffers (a few MB on loopback) before anything
// queues in the server process.
const BIG = (1n << 64n) - 1n;

describe("1: a ping flood from a peer that never reads", () => {
  it("closes the flooder with 1008 once its queued pongs pass maxQueuedBytes, and says overloaded", async () => {
    const errors: BimuxError[] = [];
    const { server, url } = await start({ handlers, highWaterMark: 4096, maxQueuedBytes: 64 * 1024, onError: (e) => errors.push(e) });
    const normal = await wellBehaved(url);
    await nextPeer(server);
    const attacker = await attack(url);
    const flooder = await nextPeer(server);
    expect(flooder.extensions).toBe(true);
    // 10,000 pings a write, at most 60 writes: their ~9 MB of pongs are about twice what the
    // kernel's socket buffers took on loopback here (~4 MB), so the rest must queue in the server.
    const pings = frames(10_000, () => ({ number: BIG, flag: 5, route: 0, data: new Uint8Array(0) }));
    await flood(attacker.tcp, pings, 60, () => flooder.closed);
    await eventually(() => flooder.closed, 2000);
    expect(flooder.closeDetails?.code).toBe(1008);
    expect(errors.map((e) => e.code)).toContain("overloaded");
    expect(await closeCode(attacker)).toBe(1008);
    await expectServed(normal);
  });
});

describe("2: small answers and calls to a peer that never reads", () => {
  it("counts each queued answer's cost, not only its wire bytes: tiny echo requests close the flooder with 1008 early", async () => {
    const errors: BimuxError[] = [];
    let bufferedAtClose: number | undefined;
    const highWaterMark = 4096;
    const maxQueuedBytes = 64 * 1024;
    const { server, url } = await start({
      handlers,
      highWaterMark,
      maxQueuedBytes,
      onError: (e) => errors.push(e),
      // Runs as the server decides to close, before the close frame is queued: the wire bytes
      // buffered then are what the budget let through.
      onClose: (muxer) => void (bufferedAtClose ??= muxer.bufferedAmount),
    });
    const normal = await wellBehaved(url);
    await nextPeer(server);
    const attacker = await attack(url);
    const flooder = await nextPeer(server);
    // One-byte echo requests: each answer is about 18 bytes on the wire, and costs far more
    // than that in the server (its frame, its write request, ws's bookkeeping).
    const requests = frames(10_000, () => ({ number: BIG, flag: 0, route: 1, data: new Uint8Array([1]) }));
    await flood(attacker.tcp, requests, 60, () => flooder.closed);
    await eventually(() => flooder.closed, 2000);
    expect(flooder.closeDetails?.code).toBe(1008);
    // With a per-frame overhead counted, the budget runs out while the wire bytes buffered are
    // still well below it: answers of ~18 B must cost at least twice that. (Counting wire bytes
    // only, 16 MiB of them is some 900,000 answers, about 250 MB of heap.)
    expect(bufferedAtClose).toBeDefined();
    expect(bufferedAtClose!).toBeLessThanOrEqual((highWaterMark + maxQueuedBytes) / 2);
    expect(errors.map((e) => e.code)).toContain("overloaded");
    expect(await closeCode(attacker)).toBe(1008);
    await expectServed(normal);
  });

  it("rejects the server's own calls to a non-reading peer with overloaded past maxPendingCalls, instead of queueing them", async () => {
    const { server, url } = await start({ handlers, maxPendingCalls: 100 });
    const normal = await wellBehaved(url);
    await nextPeer(server);
    const attacker = await attack(url);
    const slow = await nextPeer(server);
    const settled: string[] = [];
    const calls = Array.from({ length: 100 }, () =>
      slow.rpc(1, new Uint8Array([1]), { timeout: 10_000 }).then(
        () => settled.push("ok"),
        (e: BimuxError) => settled.push(e.code),
      ),
    );
    // The 101st call: refused at once, not queued behind the hundred the peer never answers.
    const extra = slow.rpc(1, new Uint8Array([1]), { timeout: 10_000 });
    const outcome = await Promise.race([rejection(extra).then((e) => e.code), sleep(500).then(() => "still pending")]);
    expect(outcome).toBe("overloaded");
    expect(settled).toEqual([]); // the hundred within the cap are still waiting, not failed
    expect(slow.closed).toBe(false);
    attacker.ws.terminate();
    await Promise.all(calls);
    await expectServed(normal);
  });
});

describe("3: unfinished fragmented messages", () => {
  /** A message (one-way, route 9, `size` bytes of data) cut into WebSocket fragments of `piece` bytes. */
  function fragments(size: number, piece: number): Buffer[] {
    const message = encodeFrame({ number: 1, flag: 2, route: 9, data: new Uint8Array(size) });
    const out: Buffer[] = [];
    for (let at = 0; at < message.length; at += piece) {
      const last = at + piece >= message.length;
      out.push(masked(message.subarray(at, at + piece), { fin: last, opcode: at === 0 ? 2 : 0 }));
    }
    return out;
  }

  it("closes the connection holding the most partial bytes with 1009 or 1013 once maxInboundBytes is passed, server-wide", async () => {
    const delivered: number[] = [];
    const { server, url } = await start({
      handlers,
      onewayHandlers: { 9: (_route, data) => void delivered.push(data.length) },
      maxInboundBytes: 1024 * 1024,
    });
    const normal = await wellBehaved(url);
    await nextPeer(server);
    // Both read (and answer pings): the defect is the holding, not the reading.
    const big = await attack(url, { read: true });
    const small = await attack(url, { read: true });
    const bigPieces = fragments(1536 * 1024, 256 * 1024); // 6 of 256 KiB, and a last one of a few bytes
    const smallPieces = fragments(300 * 1024, 256 * 1024); // 256 KiB, then the rest
    // The small one holds 256 KiB; the big one 256 KiB more at a time, up to 1.5 MiB (all but its
    // last piece): past the 1 MiB budget from its fourth piece on, and always the largest holder.
    small.tcp.write(smallPieces[0]!);
    for (const piece of bigPieces.slice(0, -1)) {
      big.tcp.write(piece);
      await sleep(20);
    }
    const bigCode = await Promise.race([big.closed, sleep(2000).then(() => undefined)]);
    expect([1009, 1013]).toContain(bigCode);
    // The other connection was not the one holding the most: it finishes its message, which arrives.
    small.tcp.write(smallPieces[1]!);
    await eventually(() => delivered.length > 0, 2000);
    expect(delivered).toEqual([300 * 1024]);
    small.ws.terminate();
    big.ws.terminate();
    await expectServed(normal);
  });

  it("closes with 1008 a partial message that makes no progress for partialMessageTimeout ms, and lets one that progresses finish", async () => {
    const delivered: number[] = [];
    const { server, url } = await start({
      handlers,
      onewayHandlers: { 9: (_route, data) => void delivered.push(data.length) },
      partialMessageTimeout: 300,
    });
    const normal = await wellBehaved(url);
    await nextPeer(server);
    const stalled = await attack(url, { read: true });
    const steady = await attack(url, { read: true });
    stalled.tcp.write(fragments(64 * 1024, 16 * 1024)[0]!); // then nothing more, ever
    // The steady one sends a piece every 100 ms (well within the timeout) for a second.
    const steadyPieces = fragments(10 * 16 * 1024, 16 * 1024);
    for (const piece of steadyPieces) {
      steady.tcp.write(piece);
      await sleep(100);
    }
    const stalledCode = await Promise.race([stalled.closed, sleep(2000).then(() => undefined)]);
    expect(stalledCode).toBe(1008);
    await eventually(() => delivered.length > 0, 1000);
    expect(delivered).toEqual([10 * 16 * 1024]);
    steady.ws.terminate();
    await expectServed(normal);
  });
});

describe("4: a second connection taking a live peer id", () => {
  const agent = (url: string, name: string) => `${url}?agent=${name}`;
  const byAgent = (request: { url?: string | undefined }) => new URL(request.url ?? "/", "http://x").searchParams.get("agent");

  it("an id from authenticate that is live: the upgrade is answered 409, dial rejects already_exists, the first keeps its id", async () => {
    const { server, url } = await start({ handlers, authenticate: (request) => ({ id: byAgent(request) ?? "anonymous" }) });
    const victim = await wellBehaved(agent(url, "a1"), "victim");
    const first = await nextPeer(server);
    expect(await upgradeStatus(agent(url, "a1"))).toBe(409);
    const error = await rejection(dial(agent(url, "a1")));
    expect(error.code).toBe("already_exists");
    expect((error as BimuxError & { status?: number }).status).toBe(409);
    expect(server.peers.get("a1")).toBe(first);
    expect(text(await server.peers.get("a1")!.rpc(3, new Uint8Array(0), { timeout: 2000 }))).toBe("victim");
    await expectServed(victim);
  });

  it("an id the application sets in onConnection that is live: the newcomer is closed with 1008, the registry keeps the first", async () => {
    const arrived: Muxer[] = [];
    const { server, url } = await start({
      handlers,
      onConnection: (muxer, request) => {
        arrived.push(muxer);
        muxer.id = byAgent(request) ?? muxer.id;
      },
    });
    const victim = await wellBehaved(agent(url, "a1"), "victim");
    const first = await nextPeer(server);
    // Upgraded (the id is only known once onConnection ran), then closed: what the attacker sees.
    // Not taken from server.connections: a muxer closed at once may never be queued there.
    const attacker: Attacker = await attack(agent(url, "a1"));
    // Closed as it took the id, so it never reaches server.connections (which hands out live ones only).
    await eventually(() => arrived.length === 2, 2000);
    const newcomer = arrived[1]!;
    await eventually(() => newcomer.closed, 2000);
    expect(newcomer.closeDetails?.code).toBe(1008);
    expect(await closeCode(attacker, 2000)).toBe(1008);
    expect(first.closed).toBe(false);
    expect(server.peers.get("a1")).toBe(first);
    expect(text(await server.peers.get("a1")!.rpc(3, new Uint8Array(0), { timeout: 2000 }))).toBe("victim");
    await expectServed(victim);
  });

  it('with duplicateIds: "replace", the newcomer takes the id and the older connection is closed with 1008', async () => {
    const { server, url } = await start({
      handlers,
      duplicateIds: "replace",
      onConnection: (muxer, request) => {
        muxer.id = byAgent(request) ?? muxer.id;
      },
    });
    const older = await wellBehaved(agent(url, "a1"), "older");
    const first = await nextPeer(server);
    const newer = await wellBehaved(agent(url, "a1"), "newer");
    const second = await nextPeer(server);
    const olderClose = await Promise.race([older.wait(), sleep(2000).then(() => undefined)]);
    expect(olderClose?.code).toBe(1008);
    expect(first.closed).toBe(true);
    expect(server.peers.get("a1")).toBe(second);
    expect(text(await server.peers.get("a1")!.rpc(3, new Uint8Array(0), { timeout: 2000 }))).toBe("newer");
    await expectServed(newer);
  });
});

describe("5: an authenticate hook that never settles", () => {
  it("answers the upgrade 503 after authenticateTimeout ms", async () => {
    const { url } = await start({
      handlers,
      authenticate: (request) => (request.url?.includes("hang") ? new Promise<AuthResult>(() => {}) : true),
      authenticateTimeout: 200,
    });
    const normal = await wellBehaved(url);
    // Bounded: a dozen upgrades, each given 2 s for an answer.
    const statuses = await Promise.all(Array.from({ length: 12 }, () => upgradeStatus(`${url}?hang=1`, 2000)));
    expect(statuses).toEqual(Array.from({ length: 12 }, () => 503));
    await expectServed(normal);
  });
});

describe("6: authenticate verdicts that are not an acceptance", () => {
  // What a JavaScript hook (or one typed loosely) may return by mistake. Only `true`, `{ id: "…" }`
  // with a non-empty string, and the explicit `{ status }` refusal mean something.
  const verdicts: Array<[string, unknown]> = [
    ["{ ok: false }", { ok: false }],
    ["{ id: undefined }", { id: undefined }],
    ['{ id: "" }', { id: "" }],
    ["{}", {}],
    ["{ id: 42 }", { id: 42 }],
    ["[]", []],
    ['"yes"', "yes"],
    ["1", 1],
  ];

  it.each(verdicts)("%s answers 401", async (_name, verdict) => {
    const { url } = await start({
      handlers,
      authenticate: (request) => (request.url?.includes("attacker") ? (verdict as AuthResult) : true),
    });
    const normal = await wellBehaved(url);
    expect(await upgradeStatus(`${url}?attacker`)).toBe(401);
    await expectServed(normal);
  });

  it("true and { id } still accept", async () => {
    const { url } = await start({ handlers, authenticate: (request) => (request.url?.includes("named") ? { id: "agent-1" } : true) });
    expect(await upgradeStatus(url)).toBe(101);
    expect(await upgradeStatus(`${url}?named`)).toBe(101);
  });
});

describe("7: one-way handlers and maxConcurrent", () => {
  it("a flood of never-settling one-way handlers stays at maxConcurrent running; once they settle, the rest is delivered", async () => {
    const maxConcurrent = 10;
    let running = 0;
    let peak = 0;
    let delivered = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { server, url } = await start({
      handlers,
      maxConcurrent,
      onewayHandlers: {
        7: async () => {
          peak = Math.max(peak, ++running);
          await gate; // never settles until the test releases it
          running--;
          delivered++;
        },
      },
    });
    const normal = await wellBehaved(url);
    await nextPeer(server);
    const attacker = await attack(url);
    attacker.tcp.write(frames(500, (i) => ({ number: i + 1, flag: 2, route: 7, data: new Uint8Array([1]) })));
    await eventually(() => running >= maxConcurrent, 2000);
    await sleep(200); // time for more to start, were they going to
    expect(peak).toBeLessThanOrEqual(maxConcurrent);
    await expectServed(normal); // the server stopped reading the flooder, not everyone
    release();
    // The server reads the flooder again: everything it sent is delivered, never over the cap.
    await eventually(() => delivered === 500, 3000);
    expect(delivered).toBe(500);
    expect(peak).toBeLessThanOrEqual(maxConcurrent);
    attacker.ws.terminate();
    await expectServed(normal);
  });
});

describe("8: many calls sharing one AbortSignal", () => {
  it("50 calls on one signal add one abort listener to it, and no MaxListenersExceededWarning", async () => {
    const warnings: string[] = [];
    // A listener only, removed again: the warning still goes wherever it went.
    const onWarning = (warning: Error): void => void warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      const { server, url } = await start({ handlers });
      const normal = await wellBehaved(url);
      await nextPeer(server);
      const attacker = await attack(url); // never answers: the calls stay pending
      const peer = await nextPeer(server);
      const controller = new AbortController();
      const calls = Array.from({ length: 50 }, () => rejection(peer.rpc(1, new Uint8Array([1]), { signal: controller.signal, timeout: 10_000 })));
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
      await sleep(50); // warnings are emitted on a later tick
      expect(warnings).not.toContain("MaxListenersExceededWarning");
      // The one listener still reaches every call.
      controller.abort();
      expect((await Promise.all(calls)).map((e) => e.code)).toEqual(Array.from({ length: 50 }, () => "aborted"));
      expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
      attacker.ws.terminate();
      await expectServed(normal);
    } finally {
      process.off("warning", onWarning);
    }
  });
});

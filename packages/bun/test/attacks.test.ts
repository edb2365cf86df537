// The hardening attacks of packages/node/test/serve/attacks.test.ts, against @bimux/bun's
// bunServer: fixtures/bun-attack-server.ts runs the BUILT package in a Bun process, one
// Bun.serve per attack (default options, but for the small limits @bimux/node's test sets
// too), and the hostile clients of test-support/attackers.ts write crafted frames at it and
// (mostly) never read. Each test asserts what a user would notice: the close code the
// attacker gets, the `overloaded` errors, that a well-behaved client of the same server is
// still answered, that the Bun process is still there, and that what the process holds
// (its resident set, which it reports on request) stays bounded. No durations: every wait is
// bounded in time, and fails the test when it runs out.
//
// Not here: attack 4 (peer-id takeover: bun-registry.test.ts), attack 8 (a client's
// AbortSignal, nothing of the server's), and @bimux/node's partial-message budget and timeout
// (attack 3): Bun assembles fragmented messages itself, so what is checked instead is that one
// over maxMessageSize is refused with 1009 while it is read (see the README's limits).
import { fileURLToPath } from "node:url";
import { encodeFrame } from "@bimux/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dial, type Muxer } from "../../node/dist/index.js";
import { attack, closeCode, flood, frames, masked, upgradeStatus, type Attacker } from "../../../test-support/attackers.js";
import { bytes, sleep, text } from "../../../test-support/helpers.js";
import { BunFixture, checkBuilt, within } from "./fixtures/bun-process.js";

const MiB = 1024 * 1024;

type Server = "pings" | "echoes" | "defaults" | "calls" | "big" | "hang" | "verdicts" | "oneway";

let bun: BunFixture;
let ports: Record<Server | "control", number>;
let exited = false;
const opened: Muxer[] = [];
const attackers: Attacker[] = [];
/** The memory figures each attack left, printed after the file. */
const figures: Record<string, string> = {};

beforeAll(async () => {
  checkBuilt(["core", "node", "bun"]);
  bun = new BunFixture(fileURLToPath(new URL("./fixtures/bun-attack-server.ts", import.meta.url)));
  void bun.exited.then(() => (exited = true));
  ports = (await bun.next((l) => l.event === "listening", 20_000)).ports as typeof ports;
}, 30_000);

afterAll(async () => {
  for (const muxer of opened) muxer.close();
  for (const attacker of attackers) attacker.ws.terminate();
  await bun?.stop();
  if (Object.keys(figures).length > 0) console.info(`bun attacks, memory:\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join("\n")}`);
});

const url = (server: Server, query = "") => `ws://127.0.0.1:${ports[server]}/mux${query}`;

/** GET on the fixture's control server, within a bound. */
async function control<T>(path: string): Promise<T> {
  const response = await within(fetch(`http://127.0.0.1:${ports.control}${path}`), 5000, `GET ${path}`);
  return (await response.json()) as T;
}

interface Memory {
  rss: number;
  peakRss: number;
  heapSize: number;
}

/** What the Bun process holds after a full collection; its peak is counted again from here. */
const settledMemory = () => control<Memory>("/mem?gc&reset");

/** The memory an attack cost: its peak above the baseline, and what is left after a collection. */
async function growth(name: string, before: Memory): Promise<{ peak: number; left: number }> {
  const peak = (await control<Memory>("/mem")).peakRss - before.rss;
  const after = await control<Memory>("/mem?gc");
  const left = after.heapSize - before.heapSize;
  const mb = (n: number) => `${n >= 0 ? "+" : ""}${(n / MiB).toFixed(1)} MiB`;
  figures[name] = `peak RSS ${mb(peak)}, after GC: heap ${mb(left)}, RSS ${mb(after.rss - before.rss)} (from ${(before.rss / MiB).toFixed(0)} MiB)`;
  return { peak, left };
}

/** The id of the next connection of `role` to `server` that the fixture reported, not claimed before. */
async function claim(server: Server, role: "normal" | "attacker"): Promise<string> {
  const line = await bun.next((l) => l.event === "connection" && l.server === server && String(l.id).startsWith(`${role}-`) && !claimed.has(String(l.id)));
  claimed.add(String(line.id));
  return String(line.id);
}
const claimed = new Set<string>();

/** A well-behaved client of `server`, dialed with the built @bimux/node; closed after the file. */
async function wellBehaved(server: Server): Promise<Muxer> {
  const muxer = await within(dial(url(server, "?role=normal"), { handshakeTimeout: 5000, onError: () => {} }), 10_000, `dial ${server}`);
  opened.push(muxer);
  await claim(server, "normal");
  return muxer;
}

/** A hostile client of `server` (test-support/attackers.ts), and its id on the server's side. */
async function hostile(server: Server, read = false): Promise<{ attacker: Attacker; id: string }> {
  const attacker = await within(attack(url(server, "?role=attacker"), { read }), 10_000, `attack ${server}`);
  attackers.push(attacker);
  return { attacker, id: await claim(server, "attacker") };
}

/** The fixture's close line of connection `id`, once there is one. */
const closedLine = (id: string) => bun.lines.find((l) => l.event === "closed" && l.id === id);

/** The well-behaved client is still answered, and the Bun process still there. */
async function expectServed(client: Muxer): Promise<void> {
  expect(exited).toBe(false);
  expect(client.closed).toBe(false);
  expect(text(await within(client.rpc(1, bytes("still here"), { timeout: 3000 }), 5000, "the normal client's call"))).toBe("still here");
}

/** highWaterMark + maxQueuedBytes of the servers the floods are aimed at (the fixture's options). */
const limit = { pings: 4096 + 64 * 1024, echoes: 4096 + 64 * 1024, defaults: MiB + 16 * MiB };

// As in @bimux/node's test: a big request number makes each answer as large as an answer gets.
const BIG = (1n << 64n) - 1n;

describe("1: a ping flood from a peer that never reads", () => {
  it("closes the flooder with 1008 once its queued pongs pass maxQueuedBytes, says overloaded, and holds no more than that", async () => {
    const normal = await wellBehaved("pings");
    const before = await settledMemory();
    const { attacker, id } = await hostile("pings");
    // 10,000 pings a write, at most 300 writes: ~45 MB of pongs, ten times what the kernel's
    // socket buffers take on loopback, so the rest must queue in the server. Measured without
    // the limit (maxQueuedBytes 1 GiB), 600 writes made Bun's RSS peak 278 MiB higher; with it,
    // some 18 MiB (the pings read and their garbage, mostly).
    const pings = frames(10_000, () => ({ number: BIG, flag: 5, route: 0, data: new Uint8Array(0) }));
    const writes = await flood(attacker.tcp, pings, 300, () => closedLine(id) !== undefined);
    const closed = await bun.next((l) => l.event === "closed" && l.id === id, 5000);
    expect(closed.code).toBe(1008);
    expect(closed.buffered).toBeLessThanOrEqual(limit.pings + 64); // pongs charged like any write
    expect(writes).toBeLessThan(300);
    expect(bun.lines.filter((l) => l.event === "error" && l.id === id).map((l) => l.code)).toContain("overloaded");
    expect(await closeCode(attacker)).toBe(1008);
    const { peak, left } = await growth("1 ping flood", before);
    expect(peak).toBeLessThan(64 * MiB);
    expect(left).toBeLessThan(8 * MiB);
    await expectServed(normal);
  });
});

describe("2: small answers and calls to a peer that never reads", () => {
  // With @bimux/node's test's small limits, and with every default (1 MiB + 16 MiB queued).
  // Its peak is asserted with the small limits only: at the defaults, the flood is closed after
  // ~1M answers, and processing that many requests takes JSC's heap up by 150 MiB or so of
  // garbage before it collects, whether the peer reads or not (measured: a reading peer sending
  // the same requests made the RSS peak as high); what is asserted there is the close, and that
  // nothing is left once collected.
  it.each([
    ["small limits (maxQueuedBytes 64 KiB)", "echoes", 64 * MiB],
    ["the default limits", "defaults", undefined],
  ] as const)("tiny echo requests close the flooder with 1008 once its queued answers pass maxQueuedBytes: %s", async (limits, server, bound) => {
    const normal = await wellBehaved(server);
    const before = await settledMemory();
    const { attacker, id } = await hostile(server);
    // One-byte echo requests: each answer is about 18 bytes on the wire, which is also what it
    // costs Bun once sent (uWebSockets copies it into the socket's one buffer); until the end
    // of the turn it waits in BunDuplex's batch, counted in bufferedAmount. At most 300 writes
    // (~3 million answers, some 54 MB).
    const requests = frames(10_000, () => ({ number: BIG, flag: 0, route: 1, data: new Uint8Array([1]) }));
    const writes = await flood(attacker.tcp, requests, 300, () => closedLine(id) !== undefined);
    const closed = await bun.next((l) => l.event === "closed" && l.id === id, 5000);
    expect(closed.code).toBe(1008);
    // Closed once what it queued reached the budget (the muxer's own check, which the batch counts
    // in): an answer's wire bytes are what it costs in uWebSockets' buffer.
    expect(closed.buffered).toBeLessThanOrEqual(limit[server] + 64);
    expect(writes).toBeLessThan(300);
    expect(bun.lines.filter((l) => l.event === "error" && l.id === id).map((l) => l.code)).toContain("overloaded");
    // With the small limits the close frame is in the kernel's buffers, and reaches the attacker
    // whenever it reads. At the defaults it waits behind 17 MiB that Bun holds itself, and Bun
    // drops such a closing socket, close frame and all, unless the peer reads at once (measured:
    // 1006 when the attacker resumed reading 250 ms after the close): this peer sees 1008 or 1006.
    const code = await closeCode(attacker);
    if (server === "echoes") expect(code).toBe(1008);
    else expect([1008, 1006]).toContain(code);
    const { peak, left } = await growth(`2 tiny echo requests, ${limits}, ${writes} writes`, before);
    if (bound !== undefined) expect(peak).toBeLessThan(bound);
    expect(left).toBeLessThan(8 * MiB);
    await expectServed(normal);
  });

  it("rejects the server's own calls to a non-reading peer with overloaded past maxPendingCalls, instead of queueing them", async () => {
    const normal = await wellBehaved("calls");
    const { attacker, id } = await hostile("calls");
    // The fixture makes 100 calls to the attacker (which never answers), then a 101st.
    const outcome = await control<{ extra: string; settled: string[]; closed: boolean }>(`/calls?id=${id}&n=100`);
    expect(outcome).toEqual({ extra: "overloaded", settled: [], closed: false });
    attacker.ws.terminate();
    await bun.next((l) => l.event === "closed" && l.id === id, 5000);
    await expectServed(normal);
  });
});

describe("3: a message over maxMessageSize, sent in fragments", () => {
  /** WebSocket fragments of a one-way message (route 9) of `size` bytes of data, `piece` bytes each; the last one has fin set. */
  function fragments(size: number, piece: number): Buffer[] {
    const message = encodeFrame({ number: 1, flag: 2, route: 9, data: new Uint8Array(size) });
    const out: Buffer[] = [];
    for (let at = 0; at < message.length; at += piece) {
      out.push(masked(message.subarray(at, at + piece), { fin: at + piece >= message.length, opcode: at === 0 ? 2 : 0 }));
    }
    return out;
  }

  it("is refused with 1009 while it is read, without holding it, and a message within the limit still arrives", async () => {
    const normal = await wellBehaved("big");
    const before = await settledMemory();
    // Both read (and answer pings): the defect would be the holding, not the reading.
    const { attacker: big, id } = await hostile("big", true);
    const { attacker: small } = await hostile("big", true);
    // The small one starts a message within the 1 MiB limit, finished after the attack.
    const smallPieces = fragments(300 * 1024, 256 * 1024);
    small.tcp.write(smallPieces[0]!);
    // The big one starts a message and sends continuations of 64 KiB, up to 32 MiB (never its
    // last fragment), stopping once its connection is closed.
    big.tcp.write(masked(new Uint8Array(64 * 1024), { fin: false, opcode: 2 }));
    const continuation = masked(new Uint8Array(64 * 1024), { fin: false, opcode: 0 });
    let code: number | undefined;
    void big.closed.then((c) => (code = c));
    const writes = await flood(big.tcp, continuation, 512, () => code !== undefined);
    expect(await within(big.closed, 5000, "the big one's close")).toBe(1009);
    expect(writes).toBeLessThan(512); // refused before the attacker was done
    await expectServed(normal); // meanwhile
    // The other connection finishes its message, which arrives.
    small.tcp.write(smallPieces[1]!);
    let delivered: number[] = [];
    for (let tries = 0; tries < 200 && delivered.length === 0; tries++) {
      delivered = await control<number[]>("/big");
      if (delivered.length === 0) await sleep(10);
    }
    expect(delivered).toEqual([300 * 1024]);
    // Bun never held more than the limit of it: the 32 MiB it would have taken is far above.
    const { peak, left } = await growth("3 fragments past maxMessageSize (1 MiB)", before);
    expect(peak).toBeLessThan(16 * MiB);
    expect(left).toBeLessThan(8 * MiB);
    expect(closedLine(id)).toBeDefined();
    small.ws.terminate();
    await expectServed(normal);
  });
});

describe("5: an authenticate hook that never settles", () => {
  it("answers the upgrade 503 after authenticateTimeout ms", async () => {
    const normal = await wellBehaved("hang");
    // Bounded: a dozen upgrades, each given 2 s for an answer.
    const statuses = await Promise.all(Array.from({ length: 12 }, () => upgradeStatus(url("hang", "?hang=1"), 2000)));
    expect(statuses).toEqual(Array.from({ length: 12 }, () => 503));
    await expectServed(normal);
  });
});

describe("6: authenticate verdicts that are not an acceptance", () => {
  // The fixture's verdicts, by index (?verdict=i): what a JavaScript hook may return by mistake.
  const verdicts: Array<[string, number]> = [
    ["{ ok: false }", 0],
    ["{ id: undefined }", 1],
    ['{ id: "" }', 2],
    ["{}", 3],
    ["{ id: 42 }", 4],
    ["[]", 5],
    ['"yes"', 6],
    ["1", 7],
  ];
  let normal: Muxer;
  beforeAll(async () => void (normal = await wellBehaved("verdicts")));

  it.each(verdicts)("%s answers 401", async (_name, index) => {
    expect(await upgradeStatus(url("verdicts", `?verdict=${index}`))).toBe(401);
    await expectServed(normal);
  });

  it("true and { id } still accept", async () => {
    expect(await upgradeStatus(url("verdicts", "?verdict=8"))).toBe(101);
    expect(await upgradeStatus(url("verdicts", "?verdict=9"))).toBe(101);
  });
});

describe("7: one-way handlers and maxConcurrent", () => {
  it("a flood of never-settling one-way handlers stays at maxConcurrent running; once they settle, the rest is delivered", async () => {
    type State = { running: number; peak: number; delivered: number };
    const normal = await wellBehaved("oneway");
    const { attacker } = await hostile("oneway");
    attacker.tcp.write(frames(500, (i) => ({ number: i + 1, flag: 2, route: 7, data: new Uint8Array([1]) })));
    let state = await control<State>("/oneway");
    for (let tries = 0; tries < 200 && state.running < 10; tries++) {
      await sleep(10);
      state = await control<State>("/oneway");
    }
    expect(state.running).toBe(10);
    await sleep(200); // time for more to start, were they going to
    expect((await control<State>("/oneway")).peak).toBe(10);
    await expectServed(normal); // the server stopped reading the flooder, not everyone
    await control("/release");
    // The server reads the flooder again: everything it sent is delivered, never over the cap.
    for (let tries = 0; tries < 300 && state.delivered < 500; tries++) {
      await sleep(10);
      state = await control<State>("/oneway");
    }
    expect(state).toEqual({ running: 0, peak: 10, delivered: 500 });
    attacker.ws.terminate();
    await expectServed(normal);
  });
});

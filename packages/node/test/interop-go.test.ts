// Cross-language interop: our TypeScript against a real Go peer (interop/go/peer)
// that behaves like the Go original on the same libraries, gorilla/websocket and
// golang/protobuf 1.3.5. Needs Go and Debian's sources of those two libraries;
// without them this file fails (it is never skipped) and says how to install them.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BimuxError, dial, serve, type BimuxServer, type Muxer } from "../src/index.js";
import { encodeFrame, type Frame } from "@bimux/core";
import { createClient, serviceHandlers } from "@bimux/services";
import { Directory, Tab, type Note } from "../../services/test/gen/demo/v1/tab_pb.js";
import { buildGoPeer, type GoPeerBuild } from "../../../test-support/go-peer.js";
import { bytes, rejection, sleep, text, until } from "../../../test-support/helpers.js";

const repo = fileURLToPath(new URL("../../..", import.meta.url));

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const reversed = (b: Uint8Array) => Uint8Array.from(b).reverse();
const concat = (a: Uint8Array, b: Uint8Array) => {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
};
/** The bytes the Go peer's `payload(size)` makes: (i*31+7) mod 256. */
const payload = (size: number) => Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff);
const MiB = 1 << 20;
/**
 * The keepalive interval of the tests that keep a quiet connection up. The Go peer is another
 * process: on a loaded machine it may go unscheduled for longer than two 50 ms intervals, and
 * its connection would be dropped as dead; 200 ms leaves it room.
 */
const KEEPALIVE_MS = 200;

let built: GoPeerBuild | undefined;
/** Why the Go peer could not be built. Every test throws it: a missing toolchain fails, it never skips. */
let setupError: Error | undefined;

/** The built Go peer, or the reason there is none. */
function peerBinary(): string {
  if (setupError) throw setupError;
  return built!.binary;
}

beforeAll(() => {
  try {
    built = buildGoPeer();
  } catch (error) {
    setupError = error as Error;
  }
}, 150_000);

afterAll(() => {
  for (const peer of peers.splice(0)) peer.kill();
  built?.remove();
});

/** One JSON object per line from the Go peer. */
type Line = Record<string, unknown> & {
  event?: string;
  step?: string;
  ok?: boolean;
  error?: string;
  hex?: string;
  len?: number;
  sha256?: string;
  ms?: number;
  conn?: number;
};
interface WireLog {
  flags: Record<string, number>;
  unknownFieldBytes: number;
  numbers: number[];
  oneways: string[];
  onewaysHandled: number;
  textMessages: number;
  /** Every frame Go read, its number as an exact decimal. */
  frames: string[];
}

/** A running Go peer: its output lines, a way to command it, and its exit. */
class GoPeer {
  readonly lines: Line[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private stderr = "";
  private readonly listeners = new Set<() => void>();

  constructor(args: string[]) {
    // -maxlife bounds the child even if this process dies without killing it.
    this.child = spawn(peerBinary(), [...args, "-maxlife", "40s"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      this.lines.push(line.trim().startsWith("{") ? (JSON.parse(line) as Line) : { raw: line });
      for (const wake of this.listeners) wake();
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
    peers.push(this);
  }

  /** The first line at or after `from` that matches, waiting up to `ms` for it. */
  async next(match: (line: Line) => boolean, ms = 5000, from = 0): Promise<Line> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.lines.slice(from).find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null) {
        throw new Error(`Go peer: no matching line within ${ms} ms.\nstdout: ${JSON.stringify(this.lines)}\nstderr: ${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.listeners.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 100));
        this.listeners.add(wake);
      });
    }
  }

  /** Sends a command line and waits for the first line of `event` it prints. */
  command(line: string, event: string, ms = 5000): Promise<Line> {
    const from = this.lines.length;
    this.child.stdin!.write(`${line}\n`);
    return this.next((l) => l.event === event, ms, from);
  }

  /** What the newest connection of a Go server has received so far. */
  async wire(): Promise<WireLog> {
    return (await this.command("stats", "stats")).wire as WireLog;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

const peers: GoPeer[] = [];
const muxers: Muxer[] = [];
const servers: BimuxServer[] = [];
afterEach(async () => {
  for (const m of muxers.splice(0)) m.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const peer of peers.splice(0)) peer.kill();
});

async function goServer(...flags: string[]): Promise<{ go: GoPeer; url: string }> {
  const go = new GoPeer(["server", "-addr", "127.0.0.1:0", "-path", "/mux", ...flags]);
  const first = await go.next(() => true);
  expect(first).toHaveProperty("raw");
  return { go, url: `ws://127.0.0.1:${Number(first.raw)}/mux` };
}

async function tsClient(url: string, options: Parameters<typeof dial>[1] = {}): Promise<Muxer> {
  const client = await dial(url, options);
  muxers.push(client);
  return client;
}

const helloHandler = { 10: (_route: number, data: Uint8Array) => bytes(`ts:${text(data)}`) };
const range = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));

describe("TS client ↔ Go server (gorilla/websocket, golang/protobuf 1.3.5)", () => {
  it("the Go peer speaks the Go original's wire format: it encodes and decodes every conformance vector", () => {
    const run = spawnSync(peerBinary(), ["vectors", "-file", join(repo, "conformance/go-bimux-wire-vectors.json")], {
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(JSON.parse(run.stdout)).toEqual({ vectors: 14, mismatches: [] });
    expect(run.status).toBe(0);
  });

  it("calls Go routes and gets the exact bytes back (0 B, small, 1 MiB), over the base protocol", async () => {
    const { go, url } = await goServer();
    const client = await tsClient(url, { handlers: helloHandler });
    expect(client.extensions).toBe(false);
    // One handshake: Node offers the extensions in a header gorilla ignores, never as a
    // subprotocol (ws would refuse gorilla's answer, costing the Go server a dead connection).
    const hello = await go.next((l) => l.event === "hello" && l.ok === true);
    const accepted = go.lines.filter((l) => l.event === "accepted");
    expect(accepted.map((l) => l.offered)).toEqual([""]);
    // The Go server called the TS client the moment it accepted it, and got its handler's reply.
    expect([hello.conn, hello.hex]).toEqual([accepted[0]!.conn, hex(bytes("ts:from-go"))]);

    expect(hex(await client.rpc(1, new Uint8Array(0)))).toBe("");
    expect(text(await client.rpc(1, bytes("hello")))).toBe("hello");
    const odd = Uint8Array.from([0, 0xff, 0x80, 0x0a, 0xc3, 0x28, 0]); // not UTF-8: bytes, not text
    expect(hex(await client.rpc(2, odd))).toBe(hex(concat(bytes("go:"), reversed(odd))));
    const big = payload(MiB);
    expect(sha256(await client.rpc(1, big))).toBe(sha256(big));
    const bigReply = await client.rpc(2, big);
    expect([bigReply.length, sha256(bigReply)]).toEqual([MiB + 3, sha256(concat(bytes("go:"), reversed(big)))]);
    // A Go hook that returns nil for a route sends an empty response: a success with 0 bytes.
    expect(hex(await client.rpc(99, bytes("x")))).toBe("");
    expect(hex(await client.rpc(-7, bytes("x")))).toBe("");
  });

  it("runs 200 TS→Go and 150 Go→TS calls at once, all correct, and a 1 MiB call from Go", async () => {
    const { go, url } = await goServer();
    const client = await tsClient(url, {
      handlers: {
        ...helloHandler,
        11: (_route, data) => reversed(data),
      },
    });
    await go.next((l) => l.event === "hello" && l.ok === true);
    // Route 3 sleeps 200 ms in Go: served one after another, 200 of them take 40 s, and most would
    // pass their 10 s deadline; every one answered means Go served them at once.
    const mine = Promise.all(range(200, (i) => `t${i}`).map((d) => client.rpc(3, bytes(d), { timeout: 10_000 })));
    const theirs = go.command("call 10 150 g", "call");
    const [replies, call] = await Promise.all([mine, theirs]);
    expect(replies.map(text)).toEqual(range(200, (i) => `t${i}`));
    expect(call.errors).toEqual([]);
    expect(call.replies).toEqual(range(150, (i) => `ts:g#${i}`));
    expect(client.pendingCalls).toBe(0);

    const big = await go.command(`big 11 ${MiB}`, "big");
    expect([big.ok, big.len, big.sha256]).toEqual([true, MiB, sha256(reversed(payload(MiB)))]);
  });

  it("delivers sends to Go in order, numbered by the same counter as calls, and sends Go only base-protocol bytes", async () => {
    const { go, url } = await goServer();
    // Keepalive every KEEPALIVE_MS: on a plain connection that is a WebSocket ping, which gorilla answers.
    const client = await tsClient(url, { handlers: helloHandler, keepalive: { interval: KEEPALIVE_MS } });
    await go.next((l) => l.event === "hello" && l.ok === true);
    let calls = 0;
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 1000; i++) {
      sends.push(client.send(7, bytes(String(i))));
      if (i % 100 === 0) {
        sends.push(client.rpc(1, bytes(`between ${i}`)));
        calls++;
      }
    }
    await Promise.all(sends);
    // A call that times out here would send a cancel (flag 4) to a bimux-ts peer; never to Go.
    expect((await rejection(client.rpc(3, bytes("slow"), { timeout: 50 }))).code).toBe("timeout");
    calls++;
    // Quiet for 8 keepalive intervals: gorilla's pongs keep the connection up; Go's late reply is dropped.
    await sleep(8 * KEEPALIVE_MS);
    expect(client.closed).toBe(false);
    expect(text(await client.rpc(1, bytes("still here")))).toBe("still here");
    calls++;

    let wire = await go.wire();
    await until(async () => (wire = await go.wire()).onewaysHandled === 1000);
    expect(wire.oneways).toEqual(range(1000, String));
    // One counter, from 1, for calls and sends alike, in wire order.
    expect(wire.numbers).toEqual(Array.from({ length: 1000 + calls }, (_, i) => i + 1));
    // Requests, one response (to Go's hello call), one-ways: no cancel, no ping message, no field 5.
    expect(wire.flags).toEqual({ "0": calls, "1": 1, "2": 1000 });
    expect([wire.unknownFieldBytes, wire.textMessages]).toEqual([0, 0]);
  });

  it("times out a call Go never answers (no rpc hook), and rejects pending calls at once when Go closes", async () => {
    const { go, url } = await goServer("-nohook");
    const client = await tsClient(url, { handlers: helloHandler });
    // A server with no rpc hook can still call its client.
    await go.next((l) => l.event === "hello" && l.ok === true);
    // Not early: a 250 ms timer set now has fired by the time the 300 ms call times out.
    let beforeDeadline = true;
    setTimeout(() => (beforeDeadline = false), 250);
    const unanswered = await rejection(client.rpc(1, bytes("anyone?"), { timeout: 300 }));
    expect(unanswered.code).toBe("timeout");
    expect(beforeDeadline).toBe(false);

    const pending = range(50, (i) => `p${i}`).map((d) => rejection(client.rpc(1, bytes(d), { timeout: 10_000 })));
    await until(async () => (await go.wire()).flags["0"] === 51);
    await go.command("close", "closed");
    const errors = await Promise.all(pending);
    // Go's Close sends no close frame: the socket just ends, and that must not wait for the 10 s
    // timeouts: every call rejects as closed, none as timed out.
    expect(errors.map((e) => e.code)).toEqual(Array(50).fill("closed"));
    expect(await client.wait()).toMatchObject({ code: 1006, initiator: "remote" });
  });

  it("answers a Go call it has no handler for with an error reply that Go drops: Go times out, never succeeds", async () => {
    const { go, url } = await goServer("-calltimeout", "300ms");
    // extensions: false makes a single handshake, so the one connection is conn 1.
    const client = await tsClient(url, { extensions: false });
    const hello = await go.next((l) => l.event === "hello");
    // Go's Rpc says timeout only when its own timer fires: the error reply did not end the call.
    expect([hello.conn, hello.ok, hello.error]).toEqual([1, false, "timeout"]);
    // The TS side did answer, with flag 3; Go counted it and dropped it, and the connection lives on.
    expect((await go.wire()).flags).toEqual({ "3": 1 });
    expect(text(await client.rpc(1, bytes("after")))).toBe("after");
  });
});

describe("Go client ↔ TS server", () => {
  it("serves Go's calls byte for byte, calls Go back, drops nothing, and speaks only the base protocol to Go", async () => {
    const oneways: string[] = [];
    const server = await serve({
      host: "127.0.0.1",
      port: 0,
      path: "/mux",
      keepalive: { interval: KEEPALIVE_MS },
      handlers: {
        1: (_route, data) => data,
        2: (_route, data) => reversed(data),
        3: async (_route, data) => {
          await sleep(1);
          return bytes(`ts:${text(data)}`);
        },
        4: () => {
          throw new Error("this handler fails on purpose");
        },
        // Route 5: no handler at all.
      },
      onOneway: (route, data) => void (route === 7 && oneways.push(text(data))),
      onConnection: (muxer) => (muxer.id = "go-client"),
    });
    servers.push(server);
    const go = new GoPeer(["client", "-url", `ws://127.0.0.1:${server.port}/mux`, "-timeout", "500ms"]);
    const connected = await go.next((l) => l.step === "connected" || l.step === "connect");
    expect(connected.ok).toBe(true);
    let peer: Muxer | undefined;
    for await (const m of server.connections) {
      peer = m;
      break;
    }
    expect(peer!.extensions).toBe(false);
    const goClient = server.peers.get("go-client")!;
    expect(goClient).toBe(peer);

    // TS server → Go client, while the Go client's own script runs.
    let requests = 0;
    const rpc = (route: number, data: Uint8Array, options?: { timeout: number }) => {
      requests++;
      return goClient.rpc(route, data, options);
    };
    expect(hex(await rpc(1, new Uint8Array(0)))).toBe("");
    expect(text(await rpc(1, bytes("hello go")))).toBe("hello go");
    const odd = Uint8Array.from([0xfe, 0, 0xc3, 0x28]);
    expect(hex(await rpc(2, odd))).toBe(hex(concat(bytes("go:"), reversed(odd))));
    expect(sha256(await rpc(1, payload(MiB)))).toBe(sha256(payload(MiB)));
    expect(hex(await rpc(99, bytes("?")))).toBe("");
    // Route 3 sleeps 200 ms: one after another, 150 of them would pass a 10 s deadline; all answered means at once.
    const many = await Promise.all(range(150, (i) => `s${i}`).map((d) => rpc(3, bytes(d), { timeout: 10_000 })));
    expect(many.map(text)).toEqual(range(150, (i) => `s${i}`));
    expect((await rejection(rpc(3, bytes("slow"), { timeout: 50 }))).code).toBe("timeout");

    // The Go client's script: each result as Go saw it.
    await go.next((l) => l.step === "done", 15_000);
    const step = (name: string) => go.lines.find((l) => l.step === name)!;
    expect(step("echo")).toMatchObject({ ok: true, hex: hex(bytes("hello from go")) });
    expect(step("empty")).toMatchObject({ ok: true, len: 0 });
    expect(step("transform")).toMatchObject({ ok: true, hex: hex(bytes("cba")) });
    expect(step("big")).toMatchObject({ ok: true, len: MiB, sha256: sha256(reversed(payload(MiB))) });
    expect(step("concurrent")).toMatchObject({ errors: [], replies: range(100, (i) => `ts:c#${i}`) });
    // A throwing handler and a missing one answer with flag 3, which Go drops: its Rpc can only time out.
    // (Go's Rpc says timeout only when its own timer fires.)
    for (const name of ["throws", "unhandled"]) expect(step(name)).toMatchObject({ ok: false, error: "timeout" });
    expect(step("sent")).toMatchObject({ count: 1000 });
    await until(() => oneways.length === 1000);
    expect(oneways).toEqual(range(1000, String));

    // Quiet for 4 keepalive intervals: the TS server pings Go with WebSocket pings, gorilla answers.
    await sleep(4 * KEEPALIVE_MS);
    expect(goClient.closed).toBe(false);
    expect(text(await rpc(1, bytes("last")))).toBe("last");

    goClient.close();
    const stats = await go.next((l) => l.step === "stats");
    const wire = stats.wire as WireLog;
    // Requests, responses to Go's 104 successful calls, and 2 error replies; no cancel, ping, or field 5.
    expect(wire.flags).toEqual({ "0": requests, "1": 104, "3": 2 });
    expect(wire.numbers).toEqual(Array.from({ length: requests }, (_, i) => i + 1));
    expect([wire.unknownFieldBytes, wire.textMessages]).toEqual([0, 0]);
    expect(await go.exited).toBe(0);
  });
});

// ---------------------------------------------------------------- edge cases
const frameHex = (f: Partial<Frame> & { number: number | bigint }) =>
  hex(encodeFrame({ flag: 0, route: 0, data: new Uint8Array(0), ...f }));
const U64_MAX = (1n << 64n) - 1n;

/** A TS server and a Go client (dialcmd mode) that takes the server's stdin commands. */
async function goClientOf(options: Parameters<typeof serve>[0] = {}, ...flags: string[]) {
  const server = await serve({ host: "127.0.0.1", port: 0, path: "/mux", ...options });
  servers.push(server);
  const go = new GoPeer(["dialcmd", "-url", `ws://127.0.0.1:${server.port}/mux`, ...flags]);
  expect((await go.next((l) => l.event === "connect")).ok).toBe(true);
  let peer: Muxer | undefined;
  for await (const m of server.connections) {
    peer = m;
    break;
  }
  return { server, go, peer: peer! };
}

const echoRoute = (route: number, data: Uint8Array) => bytes(`${route}:${text(data)}`);

describe("edge: Go client → TS server", () => {
  it("echoes request numbers exactly: 0, 2^53−1, 2^53, 2^53+1, 2^63, 2^64−1", async () => {
    const { go } = await goClientOf({ onRpc: echoRoute });
    for (const n of [0n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, U64_MAX]) {
      const r = await go.command(`rawcall ${n} 1000 ${frameHex({ number: n, route: 1, data: bytes("x") })}`, "rawcall");
      expect([String(n), r.ok, r.hex]).toEqual([String(n), true, hex(bytes("1:x"))]);
    }
    // async handler (in-flight map keyed by bigint) too
    const wire = await go.wire();
    expect(wire.frames.filter((f) => f.startsWith("1/")).map((f) => f.split("/")[1])).toEqual(
      ["0", "9007199254740991", "9007199254740992", "9007199254740993", "9223372036854775808", "18446744073709551615"],
    );
  });

  it("async handler with a bigint number still answers (in-flight map keyed by bigint)", async () => {
    const { go } = await goClientOf({ onRpc: async (r, d) => (await sleep(5), echoRoute(r, d)) });
    const n = 2n ** 60n + 3n;
    const r = await go.command(`rawcall ${n} 1000 ${frameHex({ number: n, route: 1, data: bytes("y") })}`, "rawcall");
    expect([r.ok, r.hex]).toEqual([true, hex(bytes("1:y"))]);
  });

  it("Go's uint64 counter wrapping past 2^64−1 to 0 and 1 keeps working", async () => {
    const { go } = await goClientOf({ onRpc: echoRoute });
    await go.command(`setnum ${U64_MAX - 1n}`, "setnum");
    for (const t of ["a", "b", "c"]) expect((await go.command(`rpc 1 1000 ${t}`, "rpc")).hex).toBe(hex(bytes(`1:${t}`)));
    const wire = await go.wire();
    expect(wire.frames.filter((f) => f.startsWith("1/")).map((f) => f.split("/")[1])).toEqual(["18446744073709551615", "0", "1"]);
  });

  it("the empty message (request #0, route 0, no data) is a request and is answered", async () => {
    const { go } = await goClientOf({ onRpc: echoRoute });
    const r = await go.command(`rawcall 0 1000 -`, "rawcall");
    expect([r.ok, r.hex]).toEqual([true, hex(bytes("0:"))]);
  });

  it("routes −1, int32 min/max with empty data reach the handler and are echoed on the reply", async () => {
    const seen: Array<[number, number]> = [];
    const { go } = await goClientOf({ onRpc: (route, data) => (seen.push([route, data.length]), bytes(String(route))) });
    for (const route of [-1, -2147483648, 2147483647]) {
      expect((await go.command(`rpc ${route} 1000 -`, "rpc")).hex).toBe(hex(bytes(String(route))));
    }
    expect(seen).toEqual([[-1, 0], [-2147483648, 0], [2147483647, 0]]);
    const wire = await go.wire();
    expect(wire.frames.filter((f) => f.startsWith("1/")).map((f) => f.split("/")[2])).toEqual(["-1", "-2147483648", "2147483647"]);
  });

  it("drops responses to numbers never asked (small and ≥ 2^53) and stays up", async () => {
    const { go, peer } = await goClientOf({ onRpc: echoRoute });
    await go.command(`raw ${frameHex({ number: 4242, flag: 1, route: 1, data: bytes("?") })}`, "raw");
    await go.command(`raw ${frameHex({ number: 2n ** 60n, flag: 1, route: 1, data: bytes("?") })}`, "raw");
    await go.command(`raw ${frameHex({ number: 0, flag: 1 })}`, "raw");
    expect((await go.command(`rpc 1 1000 ok`, "rpc")).hex).toBe(hex(bytes("1:ok")));
    expect(peer.closed).toBe(false);
  });

  it("skips unknown fields from Go (varint, fixed64, fixed32, bytes, group, field 2^29−1)", async () => {
    const { go } = await goClientOf({ onRpc: echoRoute });
    const base = frameHex({ number: 77, route: 1, data: bytes("u") });
    const extra = "30" + "96" + "01" + "39" + "0102030405060708" + "45" + "01020304" + "4a" + "03616263" + "53" + "0801" + "54" + "f8ffffff0f" + "01";
    const r = await go.command(`rawcall 77 1000 ${base}${extra}`, "rawcall");
    expect([r.ok, r.hex]).toEqual([true, hex(bytes("1:u"))]);
  });

  it("field 5 from a Go peer that never negotiated extensions is NOT a deadline (it is someone else's field)", async () => {
    const { go, peer } = await goClientOf({ onRpc: async (r, d) => (await sleep(30), echoRoute(r, d)) });
    expect(peer.extensions).toBe(false);
    // Message{number 88, route 1, data "t"} plus varint field 5 = 1 (e.g. a newer Go schema's "priority = 5").
    const r = await go.command(`rawcall 88 1000 ${frameHex({ number: 88, route: 1, data: bytes("t") })}2801`, "rawcall");
    expect([r.ok, r.hex]).toEqual([true, hex(bytes("1:t"))]);
  });

  it("a flag Go does not know (7) from Go: Go drops it, TS closes 1002 (documented divergence)", async () => {
    const { go, peer } = await goClientOf({ onRpc: echoRoute });
    await go.command(`raw ${frameHex({ number: 5, flag: 7 })}`, "raw");
    expect(await peer.wait()).toMatchObject({ code: 1002, reason: "unknown flag 7" });
  });

  it("flag 5 (ping) from a plain Go peer gets no flag 6 back: nothing but base protocol + flag 3 goes to Go", async () => {
    const { go } = await goClientOf({ onRpc: echoRoute });
    await go.command(`raw ${frameHex({ number: 9, flag: 5 })}`, "raw");
    await sleep(100);
    const wire = await go.wire();
    expect(wire.flags["6"]).toBeUndefined();
  });

  it("Go Close (no close frame) rejects the server's pending calls at once and frees the peer", async () => {
    const { go, peer, server } = await goClientOf({ onRpc: echoRoute, onConnection: (m) => (m.id = "g") });
    // route 3 sleeps 200 ms in Go; close before the answers
    const pending = Array.from({ length: 20 }, (_, i) => rejection(peer.rpc(3, bytes(`p${i}`), { timeout: 10_000 })));
    await until(async () => (await go.wire()).flags["0"] === 20);
    await go.command("close", "closed");
    const errs = await Promise.all(pending);
    // Closed, not timed out: the 10 s deadlines were not waited for.
    expect(errs.map((e) => e.code)).toEqual(Array(20).fill("closed"));
    expect(await peer.wait()).toMatchObject({ code: 1006, initiator: "remote" });
    await until(() => server.peers.get("g") === undefined);
  });

  it("keepalive keeps an idle Go client alive for 10 intervals", async () => {
    const { go, peer } = await goClientOf({ onRpc: echoRoute, keepalive: { interval: KEEPALIVE_MS } });
    await sleep(10 * KEEPALIVE_MS);
    expect(peer.closed).toBe(false);
    expect((await go.command(`rpc 1 1000 z`, "rpc")).hex).toBe(hex(bytes("1:z")));
  });

  it("one-ways and requests from Go share the counter and reach TS in wire order", async () => {
    const order: string[] = [];
    const { go } = await goClientOf({
      onRpc: (r, d) => (order.push(`rpc:${text(d)}`), d),
      onOneway: (_r, d) => void order.push(`ow:${text(d)}`),
    });
    await go.command("send 7 a", "send");
    await go.command("rpc 1 1000 b", "rpc");
    await go.command("send 7 c", "send");
    await until(() => order.length === 3);
    expect(order).toEqual(["ow:a", "rpc:b", "ow:c"]);
  });

  it("a text frame from Go closes with 1003 (Go would try to decode it as a Message)", async () => {
    const { go, peer } = await goClientOf({ onRpc: echoRoute });
    await go.command("text hello", "text");
    expect(await peer.wait()).toMatchObject({ code: 1003 });
    await go.next((l) => l.event === "disconnected");
  });

  it("an oversize message from a Go client ends the TS server's muxer at once, with 1009", async () => {
    const { go, peer } = await goClientOf({ onRpc: echoRoute, maxMessageSize: 1024, keepalive: false }, "-calltimeout", "300ms");
    // route 3: Go sleeps 200 ms before answering, so this call is pending when the big message arrives
    const pending = rejection(peer.rpc(3, bytes("pending"), { timeout: 20_000 }));
    await sleep(20);
    await go.command("big 1 4096", "big");
    // Go's read loop saw ws's close 1009 at once, but (like the original) never closes its TCP socket.
    await go.next((l) => l.event === "disconnected");
    // Closed, not timed out: the call's 20 s deadline was not waited for.
    expect((await pending).code).toBe("closed");
    expect(peer.closeDetails).toMatchObject({ code: 1009 });
  }, 40_000);
});

describe("edge: TS client ↔ Go server", () => {
  it("an oversize message from a Go server ends the TS client's muxer at once, with 1009", async () => {
    const { go, url } = await goServer("-calltimeout", "300ms");
    const client = await tsClient(url, { extensions: false, onRpc: echoRoute, maxMessageSize: 1024, keepalive: false });
    await go.next((l) => l.event === "hello");
    const pending = rejection(client.rpc(3, bytes("pending"), { timeout: 20_000 }));
    await sleep(20);
    await go.command("big 1 4096", "big");
    // Closed, not timed out: the call's 20 s deadline was not waited for.
    expect((await pending).code).toBe("closed");
    expect(client.closeDetails).toMatchObject({ code: 1009 });
  }, 40_000);

  it("Go server's bigint-numbered request reaches the TS client and is echoed exactly", async () => {
    const { go, url } = await goServer();
    const client = await tsClient(url, { extensions: false, onRpc: echoRoute });
    await go.next((l) => l.event === "hello");
    const r = await go.command(`rawcall ${U64_MAX} 1000 ${frameHex({ number: U64_MAX, route: -5, data: bytes("q") })}`, "rawcall");
    expect([r.ok, r.hex]).toEqual([true, hex(bytes("-5:q"))]);
    expect(client.closed).toBe(false);
  });

  it("TS client calls with empty data and int32 route extremes; Go echo returns exact", async () => {
    const { url } = await goServer();
    const client = await tsClient(url, { extensions: false, handlers: helloHandler });
    for (const route of [-2147483648, 2147483647, 0]) expect(hex(await client.rpc(route, new Uint8Array(0)))).toBe("");
    expect(text(await client.rpc(1, bytes("ok")))).toBe("ok");
  });

  it("idle TS client stays up with a Go server over 10 keepalive intervals", async () => {
    const { go, url } = await goServer();
    const client = await tsClient(url, { extensions: false, handlers: helloHandler, keepalive: { interval: KEEPALIVE_MS } });
    await go.next((l) => l.event === "hello");
    await sleep(10 * KEEPALIVE_MS);
    expect(client.closed).toBe(false);
    expect(text(await client.rpc(1, bytes("alive")))).toBe("alive");
  });

  it("a Go-server one-way sent right after a reply is seen by TS in wire order", async () => {
    const order: string[] = [];
    const { go, url } = await goServer();
    const client = await tsClient(url, {
      extensions: false,
      handlers: helloHandler,
      onOneway: (_r, d) => void order.push(`ow:${text(d)}`),
    });
    await go.next((l) => l.event === "hello");
    const p = client.rpc(3, bytes("slow")).then((d) => order.push(`reply:${text(d)}`));
    await sleep(20);
    await go.command("send 7 x", "send");
    await p;
    await until(() => order.length === 2);
    expect(order).toEqual(["ow:x", "reply:slow"]);
  });
});

// ---------------------------------------------------------------- typed services
describe("typed services (@bimux/services) ↔ Go, with messages generated for Go from the same .proto", () => {
  it("Go reads the same routes, serves Directory and calls the TS client's Tab; TS calls Go's Directory typed", async () => {
    const go = new GoPeer(["typed", "-addr", "127.0.0.1:0", "-path", "/mux", "-calltimeout", "300ms"]);
    const url = `ws://127.0.0.1:${Number((await go.next(() => true)).raw)}/mux`;
    // Go read (bimux.v1.route) from the descriptor protoc-gen-go 1.3 registered.
    expect((await go.next((l) => l.event === "routes")).routes).toEqual({
      "Tab.GetTitle": 1,
      "Tab.Notify": 10,
      "Directory.Lookup": 100,
      "Directory.Echo": 101,
    });
    const notes: Note[] = [];
    // Tab from the first frame: Go calls it the moment it accepts the connection.
    const client = await tsClient(url, {
      ...serviceHandlers(Tab, {
        getTitle: ({ tabId }) => {
          if (tabId === 404) throw new BimuxError("not_found", `no tab ${tabId}`);
          return { title: `tab ${tabId}` };
        },
        notify: (note) => void notes.push(note),
      }),
    });
    const directory = createClient(Directory, client);
    const found = await directory.lookup({ name: "abc" }, { timeout: 2000 });
    expect([found.$typeName, found.name, found.id, found.tags]).toEqual(["demo.v1.LookupResponse", "abc", 3n << 40n, ["go", "abc"]]);
    const data = payload(1000);
    expect(sha256((await directory.echo({ data, delayMs: 1 })).data)).toBe(sha256(data));

    // Go → TS: the Go message decoded by TS, TS's reply decoded by Go.
    expect(await go.next((l) => l.event === "getTitle" && l.tabId === 7)).toMatchObject({ ok: true, title: "tab 7" });
    // A typed error is an error reply (flag 3), which a Go peer of the original protocol
    // drops: its call times out, it never takes the error for a reply.
    expect(await go.next((l) => l.event === "getTitle" && l.tabId === 404)).toMatchObject({ ok: false, error: "timeout" });
    expect(await go.next((l) => l.event === "notify")).toMatchObject({ ok: true });
    await until(() => notes.length === 1);
    expect([notes[0]!.$typeName, notes[0]!.text]).toEqual(["demo.v1.Note", "from go"]);
  });
});

// Wire compatibility of @bimux/bun with the Go original: the Go peer of interop/go (gorilla/websocket
// and golang/protobuf 1.3.5, as the original) dials the Bun fixture's server in its "client" mode
// and runs its script of calls, while the Bun server calls it (fixtures/bun-server.ts, path /go).
// Needs Go and Debian's sources of those two libraries (scripts/env.sh --test installs them);
// without them this file fails, it is never skipped.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildGoPeer, type GoPeerBuild } from "../../../test-support/go-peer.js";
import { BunFixture, checkBuilt, within } from "./fixtures/bun-process.js";

let bun: BunFixture;
let built: GoPeerBuild | undefined;

beforeAll(async () => {
  checkBuilt(["core", "bun"]);
  bun = new BunFixture();
  built = buildGoPeer();
  await bun.ports();
}, 150_000);

afterAll(async () => {
  await bun?.stop();
  built?.remove();
});

type Step = Record<string, unknown> & { step?: string };

/** Runs the Go client against `url` until it exits (bounded by its -maxlife and a kill): its lines and exit code. */
function runGoClient(url: string): Promise<{ steps: Step[]; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(built!.binary, ["client", "-url", url, "-timeout", "500ms", "-maxlife", "40s"], { stdio: ["ignore", "pipe", "pipe"] });
    const steps: Step[] = [];
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    createInterface({ input: child.stdout }).on("line", (line) => steps.push(line.startsWith("{") ? (JSON.parse(line) as Step) : { raw: line }));
    const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ steps, code, stderr });
    });
  });
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const hex = (s: string) => Buffer.from(s).toString("hex");
/** The bytes the Go peer's `payload(size)` makes: (i*31+7) mod 256. */
const payload = (size: number) => Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff);

it("a Go client (the original's libraries) and the Bun server call each other, one-way messages included", async () => {
  expect(existsSync(built!.binary)).toBe(true);
  const { main } = await bun.ports();
  const go = await within(runGoClient(`ws://127.0.0.1:${main}/go`), 50_000, "the Go client");
  const context = `--- Go\n${go.steps.map((s) => JSON.stringify(s)).join("\n")}\n${go.stderr}--- Bun\n${bun.lines.map((l) => JSON.stringify(l)).join("\n")}\n${bun.stderr}`;
  const step = (name: string) => go.steps.find((s) => s.step === name);

  // Go to Bun: the Go client's script, each result as Go saw it.
  expect(step("connected"), context).toMatchObject({ ok: true });
  expect(step("echo"), context).toMatchObject({ ok: true, hex: hex("hello from go") });
  expect(step("empty"), context).toMatchObject({ ok: true, len: 0 });
  expect(step("transform"), context).toMatchObject({ ok: true, hex: hex("cba") });
  expect(step("big"), context).toMatchObject({ ok: true, len: 1 << 20, sha256: sha256(payload(1 << 20).reverse()) });
  expect(step("concurrent"), context).toMatchObject({ errors: [], replies: Array.from({ length: 100 }, (_, i) => `ts:c#${i}`) });
  // A throwing handler and a missing one answer with an error reply (flag 3), which Go drops: its Rpc can only time out.
  for (const name of ["throws", "unhandled"]) expect(step(name), context).toMatchObject({ ok: false, error: "timeout" });
  expect(step("sent"), context).toMatchObject({ count: 1000 });

  // Bun to Go: the server's calls, and the 1000 one-way messages it got, in order; no extensions with Go.
  expect(bun.lines.find((l) => l.event === "connection" && l.path === "/go"), context).toMatchObject({ extensions: false });
  const server = await bun.next((l) => l.event === "go");
  expect(server, context).toMatchObject({ echo: "hello go", transform: hex("go:") + "28c300fe", oneways: 1000, inOrder: true });

  // Go's record of the wire: the server's 2 requests, replies to Go's 104 calls that succeeded, and the
  // 2 error replies; nothing Go does not know (no cancel, no ping message, no unknown field).
  const stats = step("stats") as { wire: { flags: Record<string, number>; unknownFieldBytes: number; textMessages: number } } | undefined;
  expect(stats?.wire.flags, context).toEqual({ "0": 2, "1": 104, "3": 2 });
  expect([stats?.wire.unknownFieldBytes, stats?.wire.textMessages], context).toEqual([0, 0]);
  expect(go.code, context).toBe(0);
}, 120_000);

import { execFile, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { BimuxError, serve, type BimuxServer, type Muxer } from "@bimux/node";
import { EXIT_CODES, run } from "../src/index.js";
import { testIO, until, type TestIO } from "./helpers.js";

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** `bimux serve ARGS --port 0` in this process; resolves to its WebSocket URL once it listens. */
async function startServe(...args: string[]): Promise<{ url: string; base: string; t: TestIO }> {
  const t = testIO();
  const done = run(["serve", "--port", "0", ...args], t.io);
  cleanups.push(async () => {
    t.stop();
    expect(await done).toBe(0);
  });
  await until(() => /serving ws:\/\//.test(t.stdout()), "bimux serve to listen");
  const url = /serving (ws:\/\/\S+)/.exec(t.stdout())![1]!;
  return { url, base: url.replace(/^ws/, "http").replace(/\/mux$/, "/"), t };
}

/** `bimux ARGS` in this process to its end. */
async function cli(args: string[], input?: string | Uint8Array) {
  const t = testIO(input);
  const code = await run(args, t.io);
  return { code, stdout: t.stdout(), stderr: t.stderr() };
}

async function bimuxServer(): Promise<{ server: BimuxServer; url: string }> {
  const server = await serve({ host: "127.0.0.1", port: 0, path: "/mux" });
  cleanups.push(() => server.close());
  return { server, url: `ws://127.0.0.1:${server.port}/mux` };
}

describe("bimux call against bimux serve --echo", () => {
  it("prints the reply", async () => {
    const { url } = await startServe("--echo");
    expect(await cli(["call", url, "1", "hello"])).toEqual({ code: 0, stdout: "hello", stderr: "" });
  });

  it("reads and prints each encoding, from an argument, a file and stdin", async () => {
    const { url } = await startServe("--echo");
    expect((await cli(["call", url, "2", '{"a": [1, 2]}', "--encoding", "json"])).stdout).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}\n');
    expect((await cli(["call", url, "2", "-", "--encoding", "hex"], "00ff10\n")).stdout).toBe("00ff10\n");
    expect((await cli(["call", url, "2", "AAEC", "--encoding", "base64"])).stdout).toBe("AAEC\n");
    const dir = await mkdtemp(join(tmpdir(), "bimux-cli-"));
    cleanups.push(() => rm(dir, { recursive: true }));
    // utf8 takes a file's bytes as they are; the other encodings read its text.
    await writeFile(join(dir, "req.txt"), "two\nlines\n");
    expect((await cli(["call", url, "2", `@${join(dir, "req.txt")}`])).stdout).toBe("two\nlines\n");
    await writeFile(join(dir, "req.hex"), "00 01 02 ff\n");
    expect((await cli(["call", url, "2", `@${join(dir, "req.hex")}`, "--encoding", "hex"])).stdout).toBe("000102ff\n");
    expect((await cli(["call", url, "2", `@${join(dir, "missing")}`])).code).toBe(2);
    expect(await cli(["call", url, "2"])).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("sends one-way messages, which the server prints", async () => {
    const { url, t } = await startServe();
    expect(await cli(["call", url, "4", "fire and forget", "--oneway"])).toEqual({ code: 0, stdout: "", stderr: "" });
    await until(() => t.stdout().includes("send route 4: fire and forget"), "the server to print the message");
  });

  it("exits with the error code's status, the error on stderr", async () => {
    const { url } = await startServe(); // no --echo: no route has a handler
    const missing = await cli(["call", url, "1", "x"]);
    expect(missing).toMatchObject({ code: EXIT_CODES.unimplemented, stdout: "" });
    expect(missing.stderr).toMatch(/^bimux: \[unimplemented\]/);
    const wrongPath = await cli(["call", url.replace("/mux", "/elsewhere"), "1"]);
    expect(wrongPath.code).toBe(EXIT_CODES.unavailable);
    expect(wrongPath.stderr).toMatch(/404/);
  });

  it("reports a timeout as such", async () => {
    // A handler that answers only when the caller has given up: the call times out.
    const server = await serve({
      host: "127.0.0.1",
      port: 0,
      path: "/mux",
      onRpc: (_route, _data, _muxer, { signal }) => new Promise((resolve) => signal.addEventListener("abort", () => resolve(new Uint8Array()))),
    });
    cleanups.push(() => server.close());
    const result = await cli(["call", `ws://127.0.0.1:${server.port}/mux`, "1", "--timeout", "200ms"]);
    expect(result.code).toBe(EXIT_CODES.timeout);
    expect(result.stderr).toMatch(/^bimux: \[timeout\]/);
  });

  it("rejects a wrong command line with status 2 and the usage", async () => {
    for (const args of [["call"], ["call", "ws://127.0.0.1:1/mux", "x"], ["call", "ws://127.0.0.1:1/mux", "1", "--timeout", "soon"], ["call", "ws://127.0.0.1:1/mux", "1", "zz", "--encoding", "hex"], ["call", "--frobnicate"], ["frobnicate"]]) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(/Usage: bimux/);
    }
  });

  it("has --help for each command", async () => {
    for (const command of ["serve", "call", "listen", "peers"]) {
      const result = await cli([command, "--help"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: bimux ${command}`);
    }
    expect((await cli(["--help"])).stdout).toMatch(/Commands:/);
  });

  it("gives every error code its own exit status", () => {
    const statuses = Object.values(EXIT_CODES);
    expect(new Set(statuses).size).toBe(statuses.length);
    expect(statuses.every((s) => s > 2 && s < 256)).toBe(true);
  });
});

describe("bimux call over TLS", () => {
  it("trusts a private CA with --ca, refuses an unknown certificate, and skips the check with --insecure", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bimux-tls-"));
    cleanups.push(() => rm(dir, { recursive: true }));
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    // A self-signed certificate for 127.0.0.1, made for this test by Debian's openssl.
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
    const https = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) });
    const server = await serve({ server: https, path: "/mux", onRpc: (_route, data) => data });
    await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      await server.close();
      https.closeAllConnections();
      await new Promise((resolve) => https.close(resolve));
    });
    const url = `wss://127.0.0.1:${(https.address() as { port: number }).port}/mux`;
    expect(await cli(["call", url, "1", "private", "--ca", cert])).toEqual({ code: 0, stdout: "private", stderr: "" });
    const unknown = await cli(["call", url, "1", "x"]);
    expect(unknown.code).toBe(EXIT_CODES.unavailable);
    expect(unknown.stderr).toMatch(/certificate/i);
    expect((await cli(["call", url, "1", "anyway", "--insecure"])).stdout).toBe("anyway");
    expect((await cli(["call", url, "1", "x", "--cert", cert])).code).toBe(2); // --cert without --key
  });
});

describe("bimux listen", () => {
  it("answers with shell commands, turns a failing one into an error reply, and prints the rest", async () => {
    const { server, url } = await bimuxServer();
    const agent = testIO();
    const listening = run(["listen", url, "--route", "1=tr a-z A-Z", "--route", "2=echo broken >&2; exit 3", "--route", "3=printf %s $BIMUX_ROUTE"], agent.io);
    await until(() => server.peers.size === 1, "the listener to connect");
    const [peer] = [...server.peers] as [Muxer];
    expect(str(await peer.rpc(1, text("shout")))).toBe("SHOUT");
    expect(str(await peer.rpc(3, new Uint8Array()))).toBe("3");
    const failed = (await peer.rpc(2, text("x")).catch((e: unknown) => e)) as BimuxError;
    expect([failed.code, failed.rawMessage, failed.remote]).toEqual(["remote", "broken", true]);
    const unhandled = (await peer.rpc(9, text("nobody")).catch((e: unknown) => e)) as BimuxError;
    expect(unhandled.code).toBe("unimplemented");
    await peer.send(8, text("news"));
    await until(() => agent.stdout().includes("send route 8: news"), "the one-way message to be printed");
    expect(agent.stdout()).toContain("rpc route 9: nobody");
    agent.stop();
    expect(await listening).toBe(0);
  });

  it("exits with `closed` when the server goes away", async () => {
    const { server, url } = await bimuxServer();
    const agent = testIO();
    const listening = run(["listen", url], agent.io);
    await until(() => server.peers.size === 1, "the listener to connect");
    await server.close();
    expect(await listening).toBe(EXIT_CODES.closed);
    expect(agent.stderr()).toMatch(/closed the connection: 1001/);
  });
});

describe("bimux listen --reconnect", () => {
  it("comes back to a server that restarted, and answers it", async () => {
    const first = await serve({ host: "127.0.0.1", port: 0, path: "/mux" });
    const port = first.port;
    const agent = testIO();
    const listening = run(["listen", `ws://127.0.0.1:${port}/mux`, "--reconnect", "--route", "1=cat"], agent.io);
    await until(() => first.peers.size === 1, "the listener to connect");
    await first.close();
    const second = await serve({ host: "127.0.0.1", port, path: "/mux" });
    cleanups.push(() => second.close());
    await until(() => second.peers.size === 1, "the listener to come back", 1500);
    const [peer] = [...second.peers] as [Muxer];
    expect(str(await peer.rpc(1, text("again")))).toBe("again");
    agent.stop();
    expect(await listening).toBe(0);
    expect(agent.stderr()).toMatch(/bimux: connecting\n[^]*bimux: open/);
  });
});

describe("bimux peers", () => {
  it("lists the peers of a server with the dashboard", async () => {
    const { url, base } = await startServe("--dashboard");
    const agent = testIO();
    const listening = run(["listen", url], agent.io);
    cleanups.push(async () => {
      agent.stop();
      await listening;
    });
    await until(() => agent.stderr().includes("connected"), "the listener to connect");
    const table = await cli(["peers", base]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+ADDRESS\s+CONNECTED\s+IN\s+OUT\s+RTT MS\s+QUEUED$/);
    expect(table.stdout).toMatch(/peer-\d+\s+127\.0\.0\.1:\d+/);
    const json = await cli(["peers", url, "--json"]); // the WebSocket URL works too
    const { peers } = JSON.parse(json.stdout) as { peers: Array<{ id: string; rtt: number | null }> };
    expect(peers).toHaveLength(1);
    expect(typeof peers[0]!.rtt).toBe("number");
  });

  it("answers only requests for a loopback Host: a rebound DNS name gets 401", async () => {
    const { base } = await startServe("--dashboard");
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${base}api/peers`, { headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await status("evil.example:8080")).toBe(401);
    expect(await status("localhost:8080")).toBe(200);
    expect(await status(new URL(base).host)).toBe(200);
  });

  it("says when the server has no dashboard", async () => {
    const { base } = await startServe();
    const result = await cli(["peers", base]);
    expect(result.code).toBe(EXIT_CODES.not_found);
    expect(result.stderr).toMatch(/is the dashboard on/);
  });
});

describe("the bimux executable", () => {
  const bin = fileURLToPath(new URL("../bin/bimux.js", import.meta.url));

  it("serves and calls as separate processes, and stops on SIGINT", async () => {
    const server = spawn(process.execPath, [bin, "serve", "--echo", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    server.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)));
    cleanups.push(() => void server.kill("SIGKILL"));
    await until(() => /serving ws:\/\/\S+/.test(out), "the server process to listen", 1500);
    const url = /serving (ws:\/\/\S+)/.exec(out)![1]!;
    const reply = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, [bin, "call", url, "1", "hello"], { timeout: 15_000 }, (error, stdout) => resolve({ code: error ? Number(error.code) : 0, stdout })),
    );
    expect(reply).toEqual({ code: 0, stdout: "hello" });
    server.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});

// Bun and Deno as clients: a server from the sources (Node), and in each runtime a
// client (fixtures/runtime-client.mjs) on the BUILT @bimux/node (over `ws`, which
// both runtimes emulate) and on the BUILT @bimux/browser (over the runtime's own
// WebSocket). Calls go both ways: the client calls the server's route 1, the server
// calls the client's route 2. Both runtimes come from the root devDependencies
// (`bun`, `deno` on npm, with their platform binaries), run directly, not through
// their npm wrappers, so that a kill reaches the runtime itself.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { bytes, text } from "../../../test-support/helpers.js";
import { start } from "./fixtures/servers.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixture = fileURLToPath(new URL("./fixtures/runtime-client.mjs", import.meta.url));
const require = createRequire(import.meta.url);
const exe = process.platform === "win32" ? ".exe" : "";

/** Longest a client may run: it is killed then, and the test fails saying so. */
const CHILD_LIMIT = 20_000;

interface Runtime {
  name: "bun" | "deno";
  /** The runtime's binary, as its npm package installed it. */
  binary(): string;
  /** The arguments that run `script` with `args`. */
  args(script: string, args: string[]): string[];
}

const runtimes: Runtime[] = [
  {
    name: "bun",
    // The bun package's postinstall puts the platform package's binary in its bin/ (bun.exe on every OS).
    binary: () => join(dirname(require.resolve("bun/package.json")), "bin", "bun.exe"),
    args: (script, args) => [script, ...args],
  },
  {
    name: "deno",
    // The deno package's postinstall links the platform package's binary beside its package.json.
    binary: () => join(dirname(require.resolve("deno/package.json")), `deno${exe}`),
    // The packages resolve `ws` and `@bimux/core` from node_modules, which Deno finds from the
    // package.json nearest the script. `ws` reads WS_NO_BUFFER_UTIL and WS_NO_UTF_8_VALIDATE.
    args: (script, args) => ["run", "--allow-net=127.0.0.1", `--allow-read=${root}`, "--allow-env", script, ...args],
  },
];

const packages = ["node", "browser"] as const;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  killed: boolean;
}

/** Runs `binary` with `args` from the repository's root, killed after {@link CHILD_LIMIT}. */
function run(binary: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", DO_NOT_TRACK: "1" };
    delete env.NODE_OPTIONS;
    const child = spawn(binary, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let killed = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, CHILD_LIMIT);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, killed });
    });
  });
}

/** The client's "bimux KEY value" lines, by key. */
function said(stdout: string): Record<string, string> {
  const lines: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const match = /^bimux (\S+) ?(.*)$/.exec(line.trim());
    if (match) lines[match[1]!] = match[2]!;
  }
  return lines;
}

/** Fails unless each package's build is there and newer than its sources: the clients run the built code. */
function checkBuilt(): void {
  for (const pkg of ["core", "node", "browser"]) {
    const dist = join(root, "packages", pkg, "dist", "index.js");
    if (!existsSync(dist)) throw new Error(`${dist} is missing: the runtime clients import the built packages, run pnpm run build first`);
    const src = join(root, "packages", pkg, "src");
    const newest = Math.max(...readdirSync(src, { recursive: true, encoding: "utf8" }).map((file) => statSync(join(src, file)).mtimeMs));
    if (newest > statSync(dist).mtimeMs) throw new Error(`packages/${pkg}/src is newer than its dist: the runtime clients import the built packages, run pnpm run build first`);
  }
}

describe.each(runtimes)("in $name", (runtime) => {
  it.each(packages)("@bimux/%s dials a Node server, and calls go both ways", async (pkg) => {
    checkBuilt();
    const binary = runtime.binary();
    if (!existsSync(binary)) throw new Error(`no ${runtime.name} binary at ${binary}: pnpm install (the root devDependency ${runtime.name} brings it)`);

    // The server's call to each client, and what the client answered.
    const answers: string[] = [];
    const failures: unknown[] = [];
    const { server, url } = await start({
      handlers: {
        1: (_route, data) => {
          const reply = new Uint8Array(6 + data.length);
          reply.set(bytes("echo: "));
          reply.set(data, 6);
          return reply;
        },
      },
      onConnection: (peer, request) => {
        if (request.url?.endsWith("?drop")) {
          // The connection under the WebSocket, cut without a close frame once the client has answered.
          peer.rpc(5, bytes("")).then(
            () => request.socket.destroy(),
            (error: unknown) => failures.push(error),
          );
          return;
        }
        peer.rpc(2, bytes("ping from server")).then(
          (answer) => {
            answers.push(text(answer));
            // Tells the client its answer arrived, so that it closes only then.
            return peer.send(3, answer);
          },
          (error: unknown) => failures.push(error),
        );
      },
    });

    const started = performance.now();
    const result = await run(binary, runtime.args(fixture, [pkg, url]));
    const took = Math.round(performance.now() - started);
    const lines = said(result.stdout);
    const context = `${runtime.name} with @bimux/${pkg} (${took} ms, exit ${result.code ?? result.signal}${result.killed ? ", killed after " + CHILD_LIMIT + " ms" : ""})\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;

    expect(result.killed, context).toBe(false);
    expect(lines.runtime, context).toMatch(new RegExp(`^${runtime.name} \\S+ package ${pkg}$`));
    // Client to server: the server's route 1 answered the client.
    expect(lines.reply, context).toBe(`echo: hello from ${pkg}`);
    expect(lines.batch, context).toBe("101/101");
    // Server to client: the client's route 2 answered the server, and the server got it.
    expect(failures, context).toEqual([]);
    expect(answers, context).toEqual([`client(${pkg}) got ping from server`]);
    expect(lines["server-got"], context).toBe(`client(${pkg}) got ping from server`);
    // Both transports negotiate the extensions: @bimux/node in a header, @bimux/browser as a subprotocol.
    expect(lines.extensions, context).toBe("true");
    expect(lines.closed, context).toBe("1000");
    // A connection lost without a close frame ends with 1006 (Deno's own WebSocket says 0: see closeCode in core).
    expect(lines.dropped, context).toBe("1006");
    expect(result.code, context).toBe(0);
    await server.close();
  }, CHILD_LIMIT + 10_000);
});

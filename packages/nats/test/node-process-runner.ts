// Runs node-process.ts in a child process: bundled from the sources with esbuild (as the
// tests see them, through the same aliases) into a temporary directory, then started with node.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, afterEach } from "vitest";

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));
let bundled: Promise<{ dir: string; file: string }> | undefined;

/** The bundle, made once per test file. */
function bundle(): Promise<{ dir: string; file: string }> {
  return (bundled ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "bimux-node-process-"));
    const file = join(dir, "node-process.cjs");
    await build({
      entryPoints: [src("./node-process.ts")],
      outfile: file,
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      logLevel: "silent",
      // ws loads these native helpers when they are installed; it works without them.
      external: ["bufferutil", "utf-8-validate"],
      alias: {
        "@bimux/core": src("../../core/src/index.ts"),
        "@bimux/core/transport": src("../../core/src/transport/index.ts"),
        "@bimux/node": src("../../node/src/index.ts"),
        "@bimux/nats": src("../src/index.ts"),
      },
    });
    return { dir, file };
  })());
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});
afterAll(async () => {
  if (bundled) await rm((await bundled).dir, { recursive: true, force: true });
});

/** A node in its own process, joined to the cluster on `natsUrl`; `kill()` ends it with SIGKILL, as a crash would. */
export async function nodeProcess(natsUrl: string): Promise<{ url: string; node: string; kill(): Promise<void> }> {
  const { file } = await bundle();
  const child = spawn(process.execPath, [file], { env: { ...process.env, NATS_URL: natsUrl }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("the node process did not start within 10 s")), 10_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const end = out.indexOf("\n");
      if (end >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, end));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the node process exited with ${code}`));
    });
  });
  const { port, node } = JSON.parse(line) as { port: number; node: string };
  return {
    url: `ws://127.0.0.1:${port}/mux`,
    node,
    kill: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

// A real nats-server on a free loopback port, for the tests that need one: @bimux/nats's own
// (packages/nats/test/nats-server.ts) and the Bun server's cluster test (packages/bun/test).
// Needs nats-server on the PATH (scripts/env.sh --test installs it); without it, starting fails.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, connect as tcpConnect } from "node:net";

/** A free TCP port on 127.0.0.1 (free when asked: the server takes it right after). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Resolves once something accepts TCP connections on `port`; fails after `ms`. */
async function listening(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A nats-server child process that a test can kill and start again on the same port. */
export class NatsServer {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    /** A config file in a temporary directory, for settings without a flag (max_payload). */
    private readonly config: string | undefined,
  ) {}

  /** Starts `nats-server -a 127.0.0.1 -p <free port>`, with a `max_payload` of its own if given. */
  static async start(options: { maxPayload?: number } = {}): Promise<NatsServer> {
    let config: string | undefined;
    if (options.maxPayload) {
      const dir = await mkdtemp(join(tmpdir(), "bimux-nats-"));
      config = join(dir, "nats.conf");
      await writeFile(config, `max_payload: ${options.maxPayload}\n`);
    }
    const server = new NatsServer(await freePort(), config);
    await server.restart();
    return server;
  }

  /** The URL clients connect to. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts the server again on its port, after {@link kill}. */
  async restart(): Promise<void> {
    const args = ["-a", "127.0.0.1", "-p", String(this.port), ...(this.config ? ["-c", this.config] : [])];
    const child = spawn("nats-server", args, { stdio: "ignore" });
    this.child = child;
    const failed = new Promise<never>((_, reject) => child.once("error", reject));
    await Promise.race([listening(this.port), failed]);
  }

  /** Kills the server at once (SIGKILL): no goodbye to its clients. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  /** Kills the server and removes its config. */
  async dispose(): Promise<void> {
    await this.kill();
    if (this.config) await rm(join(this.config, ".."), { recursive: true, force: true });
  }
}

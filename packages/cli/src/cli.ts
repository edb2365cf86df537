import { readFileSync } from "node:fs";
import { BimuxError } from "@bimux/node";
import { UsageError } from "./args.js";
import { CALL_HELP, call } from "./commands/call.js";
import { LISTEN_HELP, listen } from "./commands/listen.js";
import { PEERS_HELP, peers } from "./commands/peers.js";
import { SERVE_HELP, serve } from "./commands/serve.js";
import { EXIT_CODES, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { write, type CliIO } from "./io.js";

export const HELP = `Usage: bimux <command> [options]

Commands:
  serve     run a bimux server (--echo, --dashboard)
  call      make one call and print the reply
  listen    dial in and answer the server's calls with shell commands
  peers     list a server's peers through its dashboard API

bimux <command> --help tells more. Logs: NODE_DEBUG=bimux.`;

const COMMANDS: Record<string, { run: (argv: string[], io: CliIO) => Promise<number>; help: string }> = {
  serve: { run: serve, help: SERVE_HELP },
  call: { run: call, help: CALL_HELP },
  listen: { run: listen, help: LISTEN_HELP },
  peers: { run: peers, help: PEERS_HELP },
};

/**
 * The `bimux` command line: runs `argv` (without `node` and the script) and resolves
 * to the exit status. Never throws: errors are written to `io.stderr`.
 */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" && rest[0] ? COMMANDS[rest[0]] : undefined;
    await write(io.stdout, `${topic?.help ?? HELP}\n`);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === "--version" || name === "-v") {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    await write(io.stdout, `${version}\n`);
    return EXIT_OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    await write(io.stderr, `bimux: no command ${JSON.stringify(name)}\n\n${HELP}\n`);
    return EXIT_USAGE;
  }
  try {
    return await command.run([...rest], io);
  } catch (error) {
    // parseArgs throws TypeErrors with a `code` for unknown or malformed options.
    const usage = error instanceof UsageError || (error as { code?: unknown }).code?.toString().startsWith("ERR_PARSE_ARGS");
    if (usage) {
      await write(io.stderr, `bimux ${name}: ${(error as Error).message}\n\n${command.help}\n`);
      return EXIT_USAGE;
    }
    const failure = BimuxError.from(error);
    await write(io.stderr, `bimux ${name}: ${failure.message}\n`);
    return EXIT_CODES[failure.code];
  }
}

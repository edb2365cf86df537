import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { BimuxError, dial, dialReconnecting, type CloseInfo, type DialOptions, type RpcHandler } from "@bimux/node";
import { CONNECT_HELP, CONNECT_OPTIONS, UsageError, connectOptions, encodingOf, routeOf, type Encoding } from "../args.js";
import { EXIT_CODES, EXIT_OK } from "../exit-codes.js";
import { aborted, write, type CliIO } from "../io.js";

export const LISTEN_HELP = `Usage: bimux listen <url> [--route N=<shell command>]… [options]

Dials in and answers the server's calls: a route with a command runs it in a shell,
with the request on its stdin; its stdout is the reply, and a non-zero exit an error
reply (code "remote") with its stderr as the message. The command sees the route in
BIMUX_ROUTE, and is stopped (SIGTERM) when the caller gives up. Whatever arrives on
a route with no command is printed; a call there is answered "unimplemented".
Runs until Ctrl-C or until the server closes the connection (with --reconnect, until Ctrl-C
or a refusal: 401, 403).

  --route N=CMD      answer route N with the shell command CMD; repeatable
  --reconnect        dial again after every drop, with backoff; the state changes go to stderr
  --encoding E       how to print what arrives: utf8 (default), hex, base64 or json

${CONNECT_HELP}

Example: bimux listen ws://127.0.0.1:8080/mux --route '1=hostname' --route '2=tr a-z A-Z'`;

/** A command's reply may be at most this large. (More than the default message limit, 16 MiB: past that the caller gets a `too_large` error reply.) */
const REPLY_LIMIT = 64 * 1024 * 1024;
/** How much of a failing command's stderr becomes the error's message. */
const MESSAGE_LIMIT = 4096;

/** `bimux listen`: an agent made of shell commands. */
export async function listen(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CONNECT_OPTIONS, route: { type: "string", multiple: true, short: "r" }, encoding: { type: "string" }, reconnect: { type: "boolean" } },
  });
  if (values.help) return void (await write(io.stdout, `${LISTEN_HELP}\n`)), EXIT_OK;
  const [url, ...rest] = positionals;
  if (url === undefined) throw new UsageError("listen needs a URL");
  if (rest.length) throw new UsageError(`unexpected ${JSON.stringify(rest[0])}`);
  const encoding = encodingOf(values.encoding);
  const handlers: Record<number, RpcHandler> = {};
  for (const spec of values.route ?? []) {
    const equals = spec.indexOf("=");
    if (equals < 0) throw new UsageError(`--route takes N=COMMAND, not ${JSON.stringify(spec)}`);
    const command = spec.slice(equals + 1);
    if (!command.trim()) throw new UsageError(`--route ${spec}: the command is empty`);
    handlers[routeOf(spec.slice(0, equals), "--route's N")] = (route, data, _muxer, context) => runCommand(command, route, data, context.signal);
  }
  const connect = await connectOptions(values);
  const print = (kind: string, route: number, data: Uint8Array) => write(io.stdout, `${kind} route ${route}: ${show(data, encoding)}\n`);

  const options: DialOptions = {
    ...connect,
    signal: io.signal,
    handlers,
    onRpc: async (route, data) => {
      await print("rpc", route, data);
      throw new BimuxError("unimplemented", `no command for route ${route} on this listener`);
    },
    onOneway: (route, data) => print("send", route, data),
    onError: (error) => void write(io.stderr, `bimux: ${error.message}\n`),
  };
  // What both kinds of client have: a plain muxer ends with its connection, a reconnecting one only when closed for good.
  let muxer: { wait(): Promise<CloseInfo>; close(code?: number, reason?: string): void };
  try {
    muxer = values.reconnect
      ? await dialReconnecting(url, { ...options, onStateChange: (state) => void write(io.stderr, `bimux: ${state}\n`) })
      : await dial(url, options);
  } catch (error) {
    const failure = BimuxError.from(error);
    await write(io.stderr, `bimux: ${failure.message}\n`);
    return EXIT_CODES[failure.code];
  }
  await write(io.stderr, `bimux: connected to ${url}; answering route${Object.keys(handlers).length === 1 ? "" : "s"} ${Object.keys(handlers).join(", ") || "(none)"}\n`);
  const stop = aborted(io.signal).then(() => muxer.close(1000, "listener stopped"));
  const info = await muxer.wait();
  void stop;
  if (io.signal.aborted) return EXIT_OK;
  await write(io.stderr, `bimux: the server closed the connection: ${info.code}${info.reason ? ` ${info.reason}` : ""}\n`);
  return EXIT_CODES.closed;
}

/** A message as `listen` prints it: text as it is, or in the encoding asked for. */
function show(data: Uint8Array, encoding: Encoding): string {
  switch (encoding) {
    case "utf8":
      return new TextDecoder().decode(data);
    case "hex":
      return Buffer.from(data).toString("hex");
    case "base64":
      return Buffer.from(data).toString("base64");
    case "json":
      try {
        return JSON.stringify(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data)));
      } catch {
        return `(not JSON) ${Buffer.from(data).toString("base64")}`;
      }
  }
}

/**
 * Runs `command` in a shell with `data` on its stdin. Its stdout is the reply; a
 * non-zero exit rejects with `remote` and its stderr; `signal` (the caller gave up)
 * stops it.
 */
export function runCommand(command: string, route: number, data: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, BIMUX_ROUTE: String(route) } });
    const out: Buffer[] = [];
    let outSize = 0;
    let err = "";
    let failure: BimuxError | undefined;
    const stop = () => child.kill("SIGTERM");
    signal.addEventListener("abort", stop, { once: true });
    child.stdout.on("data", (chunk: Buffer) => {
      outSize += chunk.length;
      if (outSize > REPLY_LIMIT) {
        failure ??= new BimuxError("too_large", `the command's output is over ${REPLY_LIMIT} bytes`);
        stop();
      } else out.push(chunk);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (err.length < MESSAGE_LIMIT) err += chunk;
    });
    // A command that does not read its stdin closes it early: that is no failure.
    child.stdin.on("error", () => {});
    child.stdin.end(data);
    child.on("error", (error) => {
      failure ??= new BimuxError("internal", `cannot run the command: ${error.message}`);
    });
    child.on("close", (code, signalName) => {
      signal.removeEventListener("abort", stop);
      if (failure) return reject(failure);
      if (code === 0) return resolve(new Uint8Array(Buffer.concat(out)));
      const message = err.slice(0, MESSAGE_LIMIT).trim() || (signalName ? `the command was killed by ${signalName}` : `the command exited with status ${code}`);
      reject(new BimuxError("remote", message));
    });
  });
}

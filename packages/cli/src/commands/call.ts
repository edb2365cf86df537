import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { BimuxError, dial } from "@bimux/node";
import { CONNECT_HELP, CONNECT_OPTIONS, UsageError, connectOptions, decodePayload, durationOf, encodePayload, encodingOf, readAll, routeOf } from "../args.js";
import { EXIT_CODES, EXIT_FAILURE, EXIT_OK } from "../exit-codes.js";
import { write, type CliIO } from "../io.js";

export const CALL_HELP = `Usage: bimux call <url> <route> [data | @file | -] [options]

Makes one call to a bimux server and prints the reply on stdout; an error goes to
stderr and sets the exit status (see the table in the README of @bimux/cli).

  data               the request, in --encoding; @file reads it from a file, - from stdin;
                     none sends an empty request
  --timeout D        how long to wait for the connection and the reply: 5s (default), 250ms, 2m
  --encoding E       utf8 (default: bytes as they are), hex, base64 or json, for data and reply
  --oneway           send a one-way message instead: no reply, exit 0 once it is written

${CONNECT_HELP}

Example: bimux call ws://127.0.0.1:8080/mux 1 hello`;

/** Stdin may hold at most this much (a file is read whole). (More than the default message limit, 16 MiB: past that the call fails with `too_large`.) */
const INPUT_LIMIT = 64 * 1024 * 1024;

/** `bimux call`: one rpc (or one-way message), reply on stdout, the error's code as the exit status. */
export async function call(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CONNECT_OPTIONS, timeout: { type: "string", default: "5s" }, encoding: { type: "string" }, oneway: { type: "boolean" } },
  });
  if (values.help) return void (await write(io.stdout, `${CALL_HELP}\n`)), EXIT_OK;
  const [url, routeText, input, ...rest] = positionals;
  if (url === undefined || routeText === undefined) throw new UsageError("call needs a URL and a route");
  if (rest.length) throw new UsageError(`unexpected ${JSON.stringify(rest[0])}: quote data that has spaces`);
  const route = routeOf(routeText);
  const timeout = durationOf(values.timeout);
  const encoding = encodingOf(values.encoding);
  const raw = input === undefined ? "" : input === "-" ? await readAll(io.stdin, INPUT_LIMIT) : input.startsWith("@") ? await readInput(input.slice(1)) : input;
  const data = encodePayload(raw, encoding);
  const connect = await connectOptions(values);

  try {
    const muxer = await dial(url, { ...connect, handshakeTimeout: timeout, signal: io.signal });
    try {
      if (values.oneway) {
        await muxer.send(route, data);
        return EXIT_OK;
      }
      const reply = await muxer.rpc(route, data, { timeout, signal: io.signal });
      let out: string | Uint8Array;
      try {
        out = decodePayload(reply, encoding);
      } catch (error) {
        await write(io.stderr, `bimux: the reply is not ${encoding}: ${(error as Error).message}\n`);
        return EXIT_FAILURE;
      }
      await write(io.stdout, out);
      // A terminal gets its prompt back on a line of its own; a pipe gets the bytes exactly.
      if (encoding === "utf8" && io.stdout.isTTY && reply.length && reply[reply.length - 1] !== 0x0a) await write(io.stdout, "\n");
      return EXIT_OK;
    } finally {
      muxer.close(1000, "done");
      await muxer.wait();
    }
  } catch (error) {
    const failure = BimuxError.from(error);
    await write(io.stderr, `bimux: ${failure.message}\n`);
    return EXIT_CODES[failure.code];
  }
}

async function readInput(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

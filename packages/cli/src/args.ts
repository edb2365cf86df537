import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { ParseArgsConfig } from "node:util";
import type { NodeConnectOptions } from "@bimux/node";

/** A wrong command line: the CLI prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** How payloads are written on the command line and printed. */
export type Encoding = "utf8" | "hex" | "base64" | "json";

const ENCODINGS: readonly Encoding[] = ["utf8", "hex", "base64", "json"];

/** Reads `--encoding`. */
export function encodingOf(value: string | undefined): Encoding {
  const encoding = (value ?? "utf8") as Encoding;
  if (!ENCODINGS.includes(encoding)) throw new UsageError(`--encoding must be one of ${ENCODINGS.join(", ")}, not ${JSON.stringify(value)}`);
  return encoding;
}

/** The options every command that dials takes: TLS as `dial` has it, and headers. */
export const CONNECT_OPTIONS = {
  ca: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  insecure: { type: "boolean" },
  servername: { type: "string" },
  header: { type: "string", multiple: true, short: "H" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

export const CONNECT_HELP = `Connecting:
  --ca FILE          trust this CA (PEM) instead of Node's, for a server with a private CA
  --cert FILE        client certificate (PEM), for mutual TLS; with --key
  --key FILE         the client certificate's private key (PEM)
  --insecure         do not check the server's certificate (trusts anyone on the path)
  --servername NAME  the name for SNI and the certificate check, when the URL's host is not it
  -H, --header K:V   a header on the upgrade request, such as "authorization: Bearer …"; repeatable`;

/** `dial`'s connect options from the parsed `--ca`, `--cert`, `--key`, `--insecure`, `--header`. */
export async function connectOptions(values: {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  insecure?: boolean | undefined;
  servername?: string | undefined;
  header?: string[] | undefined;
}): Promise<NodeConnectOptions> {
  const options: NodeConnectOptions = {};
  if (values.ca) options.ca = await readFile(values.ca);
  if (values.cert) options.cert = await readFile(values.cert);
  if (values.key) options.key = await readFile(values.key);
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError("--cert and --key go together");
  if (values.insecure) options.rejectUnauthorized = false;
  if (values.servername) options.servername = values.servername;
  if (values.header?.length) {
    const headers: Record<string, string> = {};
    for (const header of values.header) {
      const colon = header.indexOf(":");
      if (colon <= 0) throw new UsageError(`--header takes NAME:VALUE, not ${JSON.stringify(header)}`);
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    }
    options.headers = headers;
  }
  return options;
}

/** A route number: an int32, as on the wire. */
export function routeOf(value: string | undefined, what = "route"): number {
  if (value === undefined || !/^-?\d+$/.test(value.trim())) throw new UsageError(`${what} must be an integer, not ${JSON.stringify(value ?? "")}`);
  const route = Number(value);
  if (route < -(2 ** 31) || route >= 2 ** 31) throw new UsageError(`${what} must fit in 32 bits (an int32), not ${value}`);
  return route;
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration such as `5s`, `250ms`, `2m` or `1h`, in milliseconds; a bare number is seconds, as for coreutils' `timeout`. */
export function durationOf(value: string, what = "--timeout"): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new UsageError(`${what} takes a duration such as 5s, 250ms or 2m, not ${JSON.stringify(value)}`);
  const ms = Number(match[1]) * UNITS[match[2] ?? "s"]!;
  if (!(ms > 0)) throw new UsageError(`${what} must be more than zero`);
  return ms;
}

/** Reads all of a stream (stdin), up to `limit` bytes: a runaway producer must not fill memory. */
export async function readAll(stream: Readable, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit) throw new UsageError(`input over ${limit} bytes`);
    chunks.push(buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** `text` (or raw bytes from a file or stdin) as the bytes to send, read in `encoding`. */
export function encodePayload(input: string | Uint8Array, encoding: Encoding): Uint8Array {
  if (encoding === "utf8") return typeof input === "string" ? new TextEncoder().encode(input) : input;
  const text = (typeof input === "string" ? input : new TextDecoder().decode(input)).trim();
  switch (encoding) {
    case "hex": {
      const hex = text.replace(/\s+/g, "");
      if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new UsageError("the data is not hex (pairs of 0-9, a-f)");
      return new Uint8Array(Buffer.from(hex, "hex"));
    }
    case "base64": {
      const b64 = text.replace(/\s+/g, "");
      if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(b64)) throw new UsageError("the data is not base64");
      return new Uint8Array(Buffer.from(b64, "base64"));
    }
    case "json": {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw new UsageError(`the data is not JSON: ${(error as Error).message}`);
      }
      return new TextEncoder().encode(JSON.stringify(value));
    }
  }
}

/** A reply or message as printed in `encoding`; `json` fails on bytes that are not JSON. */
export function decodePayload(data: Uint8Array, encoding: Encoding): string | Uint8Array {
  switch (encoding) {
    case "utf8":
      return data;
    case "hex":
      return `${Buffer.from(data).toString("hex")}\n`;
    case "base64":
      return `${Buffer.from(data).toString("base64")}\n`;
    case "json":
      return `${JSON.stringify(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data)), null, 2)}\n`;
  }
}

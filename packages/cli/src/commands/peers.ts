import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { parseArgs } from "node:util";
import { CONNECT_HELP, CONNECT_OPTIONS, UsageError, connectOptions } from "../args.js";
import type { PeerSummary } from "../dashboard/handler.js";
import { EXIT_CODES, EXIT_OK } from "../exit-codes.js";
import { write, type CliIO } from "../io.js";

export const PEERS_HELP = `Usage: bimux peers <url> [--json] [options]

Lists the peers of a server that exposes the dashboard API (bimux serve --dashboard,
or createDashboard in your own server). The URL is the dashboard's (http://127.0.0.1:8080/),
or the server's WebSocket URL, whose origin is then taken.

  --json             print the API's JSON as it is

${CONNECT_HELP}`;

/** `bimux peers`. */
export async function peers(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...CONNECT_OPTIONS, json: { type: "boolean" } } });
  if (values.help) return void (await write(io.stdout, `${PEERS_HELP}\n`)), EXIT_OK;
  const [given, ...rest] = positionals;
  if (given === undefined) throw new UsageError("peers needs the dashboard's URL");
  if (rest.length) throw new UsageError(`unexpected ${JSON.stringify(rest[0])}`);
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new UsageError(`not a URL: ${given}`);
  }
  if (url.protocol === "ws:" || url.protocol === "wss:") url = new URL("/", `${url.protocol === "wss:" ? "https" : "http"}://${url.host}`);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`peers takes an http(s) or ws(s) URL, not ${url.protocol}`);
  const api = new URL("api/peers", url.href.endsWith("/") ? url : `${url.href}/`);
  const connect = await connectOptions(values);

  const { status, body } = await get(api, connect).catch((error: Error) => ({ status: 0, body: error.message }));
  if (status !== 200) {
    const why = status === 0 ? `cannot reach ${api.href}: ${body}` : status === 404 ? `${api.href} answered 404: is the dashboard on (bimux serve --dashboard)?` : `${api.href} answered ${status}: ${body.trim()}`;
    await write(io.stderr, `bimux: ${why}\n`);
    return status === 401 ? EXIT_CODES.unauthenticated : status === 403 ? EXIT_CODES.permission_denied : status === 404 ? EXIT_CODES.not_found : EXIT_CODES.unavailable;
  }
  if (values.json) return void (await write(io.stdout, body.endsWith("\n") ? body : `${body}\n`)), EXIT_OK;
  const { peers: list } = JSON.parse(body) as { peers: PeerSummary[] };
  await write(io.stdout, table(list));
  return EXIT_OK;
}

function table(list: PeerSummary[]): string {
  const rows = [
    ["ID", "ADDRESS", "CONNECTED", "IN", "OUT", "RTT MS", "QUEUED"],
    ...list.map((p) => [p.id, `${p.remoteAddress}:${p.remotePort}`, new Date(p.connectedAt).toISOString(), String(p.callsIn), String(p.callsOut), p.rtt === null ? "-" : p.rtt.toFixed(1), String(p.bufferedAmount)]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((value, column) => value.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n") + "\n";
}

function get(url: URL, options: Awaited<ReturnType<typeof connectOptions>>): Promise<{ status: number; body: string }> {
  const { headers, ca, cert, key, rejectUnauthorized, servername } = options;
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const tls = url.protocol === "https:" ? Object.fromEntries(Object.entries({ ca, cert, key, rejectUnauthorized, servername }).filter(([, v]) => v !== undefined)) : {};
    const req = request(url, { headers: { accept: "application/json", ...headers }, timeout: 10_000, ...tls }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
    req.on("error", reject);
    req.end();
  });
}

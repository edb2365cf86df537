import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { peerInfo, serve as serveBimux, watchPeers } from "@bimux/node";
import { UsageError } from "../args.js";
import { createDashboard, type DashboardHandler } from "../dashboard/handler.js";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.js";
import { aborted, write, type CliIO } from "../io.js";

export const SERVE_HELP = `Usage: bimux serve [options]

Runs a bimux server until Ctrl-C. Peers that come and go are told on stderr, one-way
messages printed on stdout.

  --port N        port to listen on (default 8080; 0 picks a free one)
  --host H        address to listen on (default 127.0.0.1: this machine only)
  --path P        path to take WebSocket upgrades on (default /mux)
  --echo          answer every call on every route with its own request
  --dashboard     serve the dashboard on / (live peers, call any of them) and a demo
                  agent page on /agent. An admin surface with no login: it only answers
                  requests whose Host is a loopback name, so keep it on 127.0.0.1

Example: bimux serve --echo   then   bimux call ws://127.0.0.1:8080/mux 1 hello`;

const LOOPBACK_HOSTS = /^(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?$/i;

/**
 * The dashboard of `bimux serve` takes requests only for a loopback Host: the
 * server listens on loopback, and a foreign site's page that rebinds its DNS name
 * to 127.0.0.1 still sends its own name as Host.
 */
function loopbackOnly(request: IncomingMessage): boolean {
  return LOOPBACK_HOSTS.test(request.headers.host ?? "");
}

/** `bimux serve`. */
export async function serve(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: "string", short: "p", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      path: { type: "string", default: "/mux" },
      echo: { type: "boolean" },
      dashboard: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void (await write(io.stdout, `${SERVE_HELP}\n`)), EXIT_OK;
  if (positionals.length) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`);
  if (!/^\d+$/.test(values.port) || Number(values.port) > 65535) throw new UsageError(`--port must be 0 to 65535, not ${values.port}`);
  if (!values.path.startsWith("/")) throw new UsageError(`--path must start with /, not ${values.path}`);

  let dashboard: DashboardHandler | undefined;
  const http = createServer((request, response) => {
    if (dashboard?.(request, response)) return;
    const onMux = new URL(request.url ?? "/", "http://localhost").pathname === values.path;
    if (onMux) response.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" }).end(`bimux: ${values.path} speaks WebSocket only\n`);
    else response.writeHead(404, { "content-type": "text/plain" }).end(`bimux: WebSocket upgrades on ${values.path}${values.dashboard ? "" : "; no dashboard (--dashboard)"}\n`);
  });
  const bimux = await serveBimux({
    server: http,
    path: values.path,
    // Without --echo no route has a handler: callers get `unimplemented`.
    ...(values.echo ? { onRpc: (_route: number, data: Uint8Array) => data } : {}),
    onOneway: (route, data, muxer) => void write(io.stdout, `${muxer.id} send route ${route}: ${new TextDecoder().decode(data)}\n`),
    onError: (error) => void write(io.stderr, `bimux: ${error.message}\n`),
  });
  const unwatch = watchPeers(bimux.peers, (event, muxer) => {
    const info = peerInfo(muxer);
    const closed = muxer.closeDetails;
    void write(
      io.stderr,
      event === "connect"
        ? `bimux: ${muxer.id} connected from ${info?.remoteAddress}:${info?.remotePort}\n`
        : `bimux: ${muxer.id} left: ${closed?.code ?? ""}${closed?.reason ? ` ${closed.reason}` : ""}\n`,
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(Number(values.port), values.host, () => {
        http.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    unwatch();
    await bimux.close();
    await write(io.stderr, `bimux: cannot listen on ${values.host}:${values.port}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
  const { port } = http.address() as AddressInfo;
  const host = values.host.includes(":") ? `[${values.host}]` : values.host;
  await write(io.stdout, `bimux: serving ws://${host}:${port}${values.path}${values.echo ? " (echo)" : ""}\n`);
  if (values.dashboard) {
    dashboard = createDashboard(bimux, { muxPath: values.path, authorize: loopbackOnly });
    await write(io.stdout, `bimux: dashboard http://${host}:${port}/ and demo agent http://${host}:${port}/agent\n`);
    if (!LOOPBACK_HOSTS.test(host)) await write(io.stderr, `bimux: the dashboard answers loopback Host names only; reach it through an SSH tunnel or put it behind your own login (createDashboard's authorize)\n`);
  }

  await aborted(io.signal);
  // Shutdown order: bimux first (its peers get 1001 and their calls reject), then the HTTP server.
  dashboard?.close();
  unwatch();
  await bimux.close();
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  return EXIT_OK;
}

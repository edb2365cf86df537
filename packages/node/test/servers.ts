// Starting bimux servers on 127.0.0.1 for the Node suites; each is closed after its test.
import { afterEach } from "vitest";
import { serve, type BimuxServer, type Muxer, type ServeOptions } from "../src/index.js";

const running: BimuxServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

/** A server on a free loopback port at `/mux`, closed when the test ends (or earlier, by the test). */
export async function start(options: ServeOptions = {}): Promise<{ server: BimuxServer; url: string }> {
  const server = await serve({ port: 0, host: "127.0.0.1", path: "/mux", ...options });
  running.push(server);
  return { server, url: `ws://127.0.0.1:${server.port}/mux` };
}

/** The next peer to connect to `server`. */
export async function nextPeer(server: BimuxServer): Promise<Muxer> {
  for await (const muxer of server.connections) return muxer;
  throw new Error("server closed");
}

import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BimuxError, dial, serve, type BimuxServer } from "@bimux/node";
import { createDashboard, type DashboardOptions } from "../src/index.js";
import { until } from "./helpers.js";

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An app server with bimux on /mux and the dashboard under /admin; other paths are the app's (418). */
async function app(options: DashboardOptions = {}): Promise<{ base: string; ws: string; server: BimuxServer }> {
  const http: Server = createServer((req, res) => dashboard(req, res) || void res.writeHead(418).end("app"));
  const server = await serve({ server: http, path: "/mux" });
  const dashboard = createDashboard(server, { prefix: "/admin", ...options });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  cleanups.push(async () => {
    dashboard.close();
    await server.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
  return { base: `http://127.0.0.1:${port}/admin`, ws: `ws://127.0.0.1:${port}/mux`, server };
}

function fetchText(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? "GET", headers: init.headers }, (res: IncomingMessage) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

const post = (url: string, body: unknown) => fetchText(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("createDashboard", () => {
  it("serves its pages under the prefix and leaves every other path to the app", async () => {
    const { base } = await app();
    expect((await fetchText(`${base}/`)).body).toContain("<title>bimux dashboard</title>");
    expect((await fetchText(`${base}/agent`)).body).toContain("bimux.global.js");
    expect((await fetchText(`${base}/agent.js`)).body).toContain('"/mux"');
    expect((await fetchText(`${base}/bimux.global.js`)).body).toMatch(/bimux/);
    expect((await fetchText(base)).status).toBe(308);
    expect((await fetchText(`${base}/unknown`)).status).toBe(418);
    expect((await fetchText(base.replace("/admin", "/administrator"))).status).toBe(418);
  });

  it("lists peers, calls them with each encoding, and types the errors", async () => {
    const { base, ws } = await app();
    const client = await dial(ws, {
      handlers: {
        1: (_route, data) => data,
        2: () => {
          throw new BimuxError("not_found", "no such thing");
        },
      },
    });
    cleanups.push(() => client.close());
    const { peers } = JSON.parse((await fetchText(`${base}/api/peers`)).body) as { peers: Array<Record<string, unknown>> };
    expect(peers).toHaveLength(1);
    const peer = peers[0]!;
    expect(peer).toMatchObject({ remoteAddress: "127.0.0.1", callsIn: 0, callsOut: 0, bufferedAmount: 0 });
    expect(typeof peer.rtt).toBe("number");
    const id = peer.id as string;

    expect(JSON.parse((await post(`${base}/api/call`, { peer: id, route: 1, data: "hi" })).body)).toEqual({ ok: true, data: "hi", encoding: "utf8", size: 2 });
    expect(JSON.parse((await post(`${base}/api/call`, { peer: id, route: 1, data: "00ff", encoding: "hex" })).body)).toMatchObject({ ok: true, data: "00ff" });
    expect(JSON.parse((await post(`${base}/api/call`, { peer: id, route: 1, data: '{"a":1}', encoding: "json" })).body)).toMatchObject({ ok: true, data: '{\n  "a": 1\n}' });
    expect(JSON.parse((await post(`${base}/api/call`, { peer: id, route: 2 })).body)).toEqual({ ok: false, error: { code: "not_found", message: "no such thing", remote: true } });
    expect(JSON.parse((await post(`${base}/api/call`, { peer: id, route: 3 })).body)).toMatchObject({ ok: false, error: { code: "unimplemented" } });
  });

  it("refuses what is not a call: wrong type, bad body, unknown peer, no JSON", async () => {
    const { base } = await app();
    expect((await post(`${base}/api/call`, { peer: "nobody", route: 1, data: "" })).status).toBe(404);
    expect((await post(`${base}/api/call`, { peer: "x", route: 1.5 })).status).toBe(400);
    expect((await post(`${base}/api/call`, { peer: "x", route: 1, data: "zz", encoding: "hex" })).status).toBe(400);
    expect((await post(`${base}/api/call`, [1, 2])).status).toBe(400);
    // A form of another site posts text/plain without a preflight: refused.
    expect((await fetchText(`${base}/api/call`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" })).status).toBe(415);
  });

  it("answers 401 to whoever authorize refuses", async () => {
    const { base } = await app({ authorize: (req) => req.headers.authorization === "Bearer admin" });
    expect((await fetchText(`${base}/api/peers`)).status).toBe(401);
    expect((await fetchText(`${base}/`)).status).toBe(401);
    expect((await fetchText(`${base}/api/peers`, { headers: { authorization: "Bearer admin" } })).status).toBe(200);
  });

  it("pushes the list over Server-Sent Events when a peer comes and goes", async () => {
    const { base, ws } = await app();
    const events: string[] = [];
    const stream = request(`${base}/api/events`);
    stream.on("response", (res) => res.setEncoding("utf8").on("data", (chunk: string) => events.push(chunk)));
    stream.end();
    cleanups.push(() => void stream.destroy());
    const last = () => {
      const datas = events.join("").split("\n").filter((line) => line.startsWith("data: "));
      return datas.length ? (JSON.parse(datas[datas.length - 1]!.slice(6)) as unknown[]) : undefined;
    };
    await until(() => last()?.length === 0, "the first, empty list");
    const client = await dial(ws);
    await until(() => last()?.length === 1, "the list with the new peer");
    client.close();
    await until(() => last()?.length === 0, "the list without it");
  });
});

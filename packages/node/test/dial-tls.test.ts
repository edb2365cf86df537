// wss:// with certificates made for the test: nothing read from fixed paths, and no
// process-wide TLS setting touched (NODE_TLS_REJECT_UNAUTHORIZED would let every
// connection of the process through, and hide a dial that does not check the server).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server as HttpsServer, type ServerOptions } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dial, serve, type Authenticate, type BimuxServer } from "../src/index.js";
import { bytes, rejection, text, until } from "../../../test-support/helpers.js";

interface KeyPair {
  key: string;
  cert: string;
}

let dir = "";
/** The server's self-signed certificate, for 127.0.0.1 and localhost. */
let server: KeyPair;
/** A client's self-signed certificate, which the server of the mutual-TLS test trusts. */
let client: KeyPair;

/** A P-256 key and a self-signed certificate for it, valid one day, made by openssl in `dir`. */
function selfSigned(name: string, subject: string, altNames?: string): KeyPair {
  const key = join(dir, `${name}-key.pem`);
  const cert = join(dir, `${name}-cert.pem`);
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  args.push("-keyout", key, "-out", cert, "-days", "1", "-subj", subject);
  if (altNames) args.push("-addext", `subjectAltName=${altNames}`);
  execFileSync("/usr/bin/openssl", args, { stdio: "pipe" });
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bimux-tls-"));
  server = selfSigned("server", "/CN=localhost", "IP:127.0.0.1,DNS:localhost");
  client = selfSigned("client", "/CN=bimux-test-client");
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const running: Array<{ https: HttpsServer; bimux: BimuxServer }> = [];
afterEach(async () => {
  for (const { https, bimux } of running.splice(0)) {
    await bimux.close();
    https.closeAllConnections();
    await new Promise<void>((r) => https.close(() => r()));
  }
});

/** A bimux server at `/mux` on an https server of its own, on a free loopback port. */
async function startTls(options: ServerOptions, authenticate?: Authenticate) {
  const https = createServer({ key: server.key, cert: server.cert, ...options });
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
  const bimux = await serve({ server: https, path: "/mux", onRpc: () => bytes("tls"), authenticate });
  running.push({ https, bimux });
  const port = (https.address() as AddressInfo).port;
  return { bimux, port, url: `wss://127.0.0.1:${port}/mux` };
}

// The TLS options are spread in rather than written in the literal, so that this file
// compiles whether or not DialOptions names them yet; dial() passes them on to Node's https.
describe("dial over wss://", () => {
  it("attaches to an existing https server, on its port, and dials it trusting its certificate through `ca`", async () => {
    const { bimux, port, url } = await startTls({});
    expect(bimux.port).toBe(port);
    const trust = { ca: server.cert };
    const c = await dial(url, { ...trust, keepalive: false });
    expect(text(await c.rpc(1, bytes("")))).toBe("tls");
    c.close();
  });

  it("refuses, with unavailable, a server whose certificate it was not told to trust", async () => {
    const { bimux, url } = await startTls({});
    const error = await rejection(dial(url, { keepalive: false }));
    expect(error.code).toBe("unavailable");
    expect(error.message).toMatch(/certificate/);
    expect(bimux.peers.size).toBe(0);
  });

  it("presents a client certificate (`cert`, `key`) to a server that requires one", async () => {
    const { bimux, url } = await startTls(
      { requestCert: true, rejectUnauthorized: true, ca: client.cert },
      // The server names each peer after the certificate it presented.
      (req) => {
        const name = (req.socket as TLSSocket).getPeerCertificate().subject.CN;
        const id = Array.isArray(name) ? name[0] : name;
        return id ? { id } : false;
      },
    );
    const withCert = { ca: server.cert, cert: client.cert, key: client.key };
    const c = await dial(url, { ...withCert, keepalive: false });
    await until(() => bimux.peers.has("bimux-test-client"));
    expect(text(await c.rpc(1, bytes("")))).toBe("tls");
    c.close();
    // Without one, the server turns the client away.
    const trustOnly = { ca: server.cert };
    expect((await rejection(dial(url, { ...trustOnly, keepalive: false }))).code).toBe("unavailable");
  });
});

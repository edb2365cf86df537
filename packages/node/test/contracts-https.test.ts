import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { expect, it } from "vitest";
import { dial, serve } from "../src/index.js";
import { bytes, text } from "../../../test-support/helpers.js";

it("serve attaches to an existing https server", async () => {
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  const https = createServer({ key: readFileSync("/tmp/k.pem"), cert: readFileSync("/tmp/c.pem") });
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
  const s = await serve({ server: https, path: "/mux", onRpc: () => bytes("tls") });
  const port = (https.address() as AddressInfo).port;
  expect(s.port).toBe(port);
  const c = await dial(`wss://127.0.0.1:${port}/mux`, { keepalive: false });
  expect(text(await c.rpc(1, bytes("")))).toBe("tls");
  c.close();
  await s.close();
  https.closeAllConnections();
  await new Promise<void>((r) => https.close(() => r()));
});

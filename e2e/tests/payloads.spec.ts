import { createHash, randomBytes } from "node:crypto";
import { expect, test } from "../fixtures/test.js";

const ECHO = 1;
const DIGEST = 2;
// Around every length boundary on the way: protobuf varints (128, 16 384), WebSocket
// frame lengths (126, 65 536), and up to 1 MiB.
const SIZES = [0, 1, 125, 126, 127, 128, 16_383, 16_384, 65_535, 65_536, 65_537, 1_048_575, 1_048_576];

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

test("payloads from 0 bytes to 1 MiB cross byte-exact in both directions", async ({ startApp, openTab }) => {
  const app = await startApp({
    handlers: {
      [ECHO]: (_route, data) => data,
      [DIGEST]: (_route, data) => new TextEncoder().encode(sha256(data)),
    },
  });
  const page = await openTab(app, "bytes");
  await page.evaluate(
    async ({ ECHO, DIGEST }) => {
      const { bimux, harness } = window;
      window.peer = await bimux.dial(harness.wsUrl, {
        handlers: {
          [ECHO]: (_route, data) => data,
          [DIGEST]: async (_route, data) => harness.encode(await harness.sha256(data)),
        },
      });
    },
    { ECHO, DIGEST },
  );
  const peer = await app.peer("bytes");

  // Server to page and back: the page's digest proves what arrived, the echo what came back.
  for (const size of SIZES) {
    const sent = new Uint8Array(randomBytes(size));
    const echoed = await peer.rpc(ECHO, sent);
    const pageDigest = new TextDecoder().decode(await peer.rpc(DIGEST, sent));
    expect({ size, length: echoed.length, echo: sha256(echoed), page: pageDigest }).toEqual({
      size,
      length: size,
      echo: sha256(sent),
      page: sha256(sent),
    });
  }

  // Page to server and back, the same two ways, with bytes the page made.
  const fromPage = await page.evaluate(
    async ({ SIZES, ECHO, DIGEST }) => {
      const { harness } = window;
      const results = [];
      for (const size of SIZES) {
        const sent = harness.randomBytes(size);
        const echoed = await window.peer.rpc(ECHO, sent);
        results.push({
          size,
          length: echoed.length,
          sent: await harness.sha256(sent),
          echo: await harness.sha256(echoed),
          server: harness.decode(await window.peer.rpc(DIGEST, sent)),
        });
      }
      return results;
    },
    { SIZES, ECHO, DIGEST },
  );
  expect(fromPage.map((r) => r.size)).toEqual(SIZES);
  for (const r of fromPage) {
    expect({ size: r.size, length: r.length, echo: r.echo, server: r.server }).toEqual({
      size: r.size,
      length: r.size,
      echo: r.sent,
      server: r.sent,
    });
  }
});

// Hostile clients for the attack tests (packages/node/test/serve/attacks.test.ts against
// @bimux/node's serve, packages/bun/test/attacks.test.ts against @bimux/bun's bunServer): a `ws` client that offers the bimux extensions and,
// unless told otherwise, stops reading right after the handshake (its TCP socket paused), so
// whatever the server answers piles up on the server's side. Frames in bulk go straight to
// the TCP socket as prebuilt masked WebSocket frames (mask key 0: valid, and the payload
// stays as it is), which is what lets a test send hundreds of thousands of them in a second.
import type { Socket } from "node:net";
import WebSocket from "ws";
import { EXTENSIONS_HEADER, EXTENSIONS_PROTOCOL, encodeFrame, type Frame } from "@bimux/core";
import { sleep } from "./helpers.js";

export interface Attacker {
  readonly ws: WebSocket;
  /** ws's TCP socket: paused unless the attacker reads. */
  readonly tcp: Socket;
  /** The close code ws reports, once the connection has ended (and the attacker read up to it). */
  readonly closed: Promise<number>;
}

/**
 * Connects to `url` offering the extensions. With `read: false` (the default) nothing is read
 * after the handshake; with `read: true` ws reads as usual and answers the server's pings.
 */
export async function attack(url: string, { read = false }: { read?: boolean } = {}): Promise<Attacker> {
  const ws = new WebSocket(url, { headers: { [EXTENSIONS_HEADER]: EXTENSIONS_PROTOCOL }, perMessageDeflate: false });
  ws.on("error", () => {}); // resets are what the attacks provoke
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_request, response) => {
      reject(new Error(`upgrade answered ${response.statusCode}`));
      ws.terminate();
    });
    void closed.then((code) => reject(new Error(`closed (${code}) before it opened`)));
  });
  // ws keeps its socket in `_socket`; reaching for it is fine in a hostile test client.
  const tcp = (ws as unknown as { _socket: Socket })._socket;
  if (!read) tcp.pause();
  return { ws, tcp, closed };
}

/** One masked binary WebSocket frame carrying `payload` (mask key 0). */
export function masked(payload: Uint8Array, { fin = true, opcode = 2 }: { fin?: boolean; opcode?: number } = {}): Buffer {
  const length = payload.length;
  const size = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const head = Buffer.alloc(size + 4); // + the mask key, left 0
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (size === 2) head[1] = 0x80 | length;
  else if (size === 4) (head[1] = 0x80 | 126), head.writeUInt16BE(length, 2);
  else (head[1] = 0x80 | 127), head.writeBigUInt64BE(BigInt(length), 2);
  return Buffer.concat([head, payload]);
}

/** `count` bimux messages, `make(i)` each, as masked WebSocket frames back to back in one buffer. */
export function frames(count: number, make: (i: number) => Frame): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => masked(encodeFrame(make(i)))));
}

/**
 * Writes `chunk` up to `times` times, waiting for the attacker's own socket to drain between
 * writes (the server reads as fast as it will), and stops early once `stop()` holds or the
 * socket is gone. Returns how many times it was written.
 */
export async function flood(tcp: Socket, chunk: Buffer, times: number, stop: () => boolean): Promise<number> {
  let written = 0;
  while (written < times && !stop() && tcp.writable) {
    written++;
    if (!tcp.write(chunk)) await drained(tcp, 1000);
    else await sleep(0);
  }
  return written;
}

/** Resolves when `tcp` drains or closes, or after `ms`. */
function drained(tcp: Socket, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      tcp.off("drain", done);
      tcp.off("close", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    tcp.on("drain", done);
    tcp.on("close", done);
  });
}

/**
 * The close code the attacker sees once it finally reads: resumes its socket and waits up
 * to `ms` for the connection to end. Undefined if it is still open then.
 */
export async function closeCode(attacker: Attacker, ms = 3000): Promise<number | undefined> {
  attacker.tcp.resume();
  const timeout = sleep(ms).then(() => undefined);
  const code = await Promise.race([attacker.closed, timeout]);
  if (code === undefined) attacker.ws.terminate();
  return code;
}

/**
 * The HTTP status an upgrade to `url` is answered with (101 when it upgrades, after which the
 * connection is closed again), or undefined if none comes within `ms`.
 */
export async function upgradeStatus(url: string, ms = 3000): Promise<number | undefined> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on("error", () => {});
  const status = await new Promise<number | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    ws.once("upgrade", () => (clearTimeout(timer), resolve(101)));
    ws.once("unexpected-response", (_request, response) => (clearTimeout(timer), resolve(response.statusCode)));
    ws.once("close", () => (clearTimeout(timer), resolve(undefined)));
  });
  ws.terminate();
  return status;
}

/** Resolves true once `condition` holds, false if it still does not after `ms`: the test then says what it saw. */
export async function eventually(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

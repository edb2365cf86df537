// Hostile WebSocket clients for bench/attacks.mjs, written on plain net sockets so that
// nothing between the attacker and the wire helps it or reads for it: the upgrade is done
// by hand, frames are written raw, and after the handshake the socket is paused, so the
// kernel's receive buffer fills and the server's replies pile up in the server process.
//
// Client frames must be masked (RFC 6455 5.3); every frame here uses the all-zero mask
// key, which is valid and leaves the payload as it is, so a frame is just header + payload
// and one prebuilt buffer of thousands of frames can be written again and again.
import net from "node:net";
import { randomBytes } from "node:crypto";
import { setImmediate as yieldTurn } from "node:timers/promises";
import { encodeFrame, EXTENSIONS_HEADER, EXTENSIONS_PROTOCOL } from "@bimux/node";

export const HOST = "127.0.0.1";
export const Op = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };

/** The header of one masked client frame of `length` payload bytes (mask key 0). */
export function frameHeader(length, { opcode = Op.binary, fin = true } = {}) {
  let head;
  if (length < 126) {
    head = Buffer.alloc(2 + 4);
    head[1] = 0x80 | length;
  } else if (length < 65536) {
    head = Buffer.alloc(4 + 4);
    head[1] = 0x80 | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head = Buffer.alloc(10 + 4);
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  head[0] = (fin ? 0x80 : 0) | opcode;
  return head; // the last four bytes, the mask key, stay 0
}

/** One complete masked binary frame carrying `payload`. */
export function wsFrame(payload, options) {
  return Buffer.concat([frameHeader(payload.length, options), payload]);
}

/** One WebSocket message carrying one bimux envelope (`encodeFrame` from @bimux/core). */
export function bimuxFrame(frame) {
  return wsFrame(Buffer.from(encodeFrame({ route: 0, data: new Uint8Array(0), ...frame })));
}

/** `count` messages made by `make(i)`, back to back in one buffer, for writing in bulk. */
export function batch(count, make) {
  return Buffer.concat(Array.from({ length: count }, (_, i) => make(i)));
}

/**
 * Opens a TCP connection and writes the upgrade request by hand. Resolves at once with
 * `{ socket, response }`: `response` resolves with `{ status }` when the server answers
 * (status 0 if the socket ends first), so a caller can also watch upgrades that are
 * never answered. A 101 leaves the socket paused: nothing is read from it after that.
 */
export function openUpgrade({ port, path = "/mux", extensions = true, headers = {} }) {
  const socket = net.connect({ host: HOST, port });
  socket.on("error", () => {}); // resets are expected: the attack is what provokes them
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${HOST}:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
    "Sec-WebSocket-Version: 13",
    ...(extensions ? [`${EXTENSIONS_HEADER}: ${EXTENSIONS_PROTOCOL}`] : []),
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  const response = new Promise((resolve) => {
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      socket.off("close", onClose);
      // Stop reading for good: what the server sends from now on stays in its buffers.
      socket.pause();
      // Bytes after the head (a frame the server sent at once) go back to the stream.
      if (head.length > end + 4) socket.unshift(head.subarray(end + 4));
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head.toString("latin1"))?.[1] ?? 0);
      resolve({ status });
    };
    const onClose = () => resolve({ status: 0 });
    socket.on("data", onData);
    socket.once("close", onClose);
  });
  return { socket, response };
}

/** Upgrades and resolves with the socket once the server answers 101; rejects otherwise. */
export async function connectRaw(options) {
  const { socket, response } = openUpgrade(options);
  const { status } = await response;
  if (status !== 101) {
    socket.destroy();
    throw new Error(`upgrade answered ${status}`);
  }
  return socket;
}

/** True while `socket` can still be written to. */
export const writable = (socket) => !socket.destroyed && socket.writable;

/**
 * Writes `chunk` again and again until `until` (a Date.now() deadline) or until the
 * socket dies, waiting for the attacker's own socket to drain (so the attacker's memory
 * stays flat; the server reads as fast as it will). Bounded by time and by `maxBytes`.
 */
export async function flood(socket, chunk, { until, maxBytes = Infinity }) {
  let written = 0;
  let turns = 0;
  while (Date.now() < until && written < maxBytes && writable(socket)) {
    const more = socket.write(chunk);
    written += chunk.length;
    if (!more) await drained(socket, until);
    // Let timers and IPC run in this process now and then.
    else if (++turns % 16 === 0) await yieldTurn();
  }
  return written;
}

/** Resolves when `socket` drains, closes, or `until` passes, whichever is first. */
export function drained(socket, until) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, until - Date.now()));
    socket.once("drain", done);
    socket.once("close", done);
  });
}

/**
 * Reads what the server sends on `socket` from now on, frame by frame, without keeping
 * payloads: answers WebSocket pings with pongs when `autoPong` (so the server's keepalive
 * takes the attacker for alive), and records the close frame's code. Returns the state,
 * updated as frames arrive: `{ closeCode, ended, bytes }`.
 */
export function readFrames(socket, { autoPong = false } = {}) {
  const state = { closeCode: undefined, ended: false, bytes: 0 };
  let head = Buffer.alloc(0); // the header being gathered
  let skip = 0; // payload bytes of a data frame still to pass over
  let control; // a control frame's payload being gathered: { opcode, need, parts }
  const onControl = (opcode, payload) => {
    if (opcode === Op.close && state.closeCode === undefined) state.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    if (opcode === Op.ping && autoPong && writable(socket)) socket.write(wsFrame(payload, { opcode: Op.pong }));
  };
  const onData = (chunk) => {
    state.bytes += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at);
        skip -= n;
        at += n;
        continue;
      }
      if (control) {
        const n = Math.min(control.need, chunk.length - at);
        control.parts.push(chunk.subarray(at, at + n));
        control.need -= n;
        at += n;
        if (control.need === 0) {
          onControl(control.opcode, Buffer.concat(control.parts));
          control = undefined;
        }
        continue;
      }
      // Gather the header: 2 bytes, then as many as its length field says.
      const want = head.length < 2 ? 2 : headerLength(head);
      const n = Math.min(want - head.length, chunk.length - at);
      head = Buffer.concat([head, chunk.subarray(at, at + n)]);
      at += n;
      if (head.length < 2 || head.length < headerLength(head)) continue;
      const opcode = head[0] & 0x0f;
      const length = payloadLength(head);
      head = Buffer.alloc(0);
      if (opcode >= 0x8) {
        if (length === 0) onControl(opcode, Buffer.alloc(0));
        else control = { opcode, need: length, parts: [] };
      } else skip = length;
    }
  };
  socket.on("data", onData);
  socket.once("close", () => (state.ended = true));
  socket.resume();
  return state;
}

// Server frames are unmasked: 2 bytes, then 0, 2 or 8 bytes of extended length.
function headerLength(head) {
  const len = head[1] & 0x7f;
  return len < 126 ? 2 : len === 126 ? 4 : 10;
}

function payloadLength(head) {
  const len = head[1] & 0x7f;
  if (len < 126) return len;
  if (len === 126) return head.readUInt16BE(2);
  return Number(head.readBigUInt64BE(2));
}

/**
 * What a non-reading attacker learns once it finally reads: starts reading `socket` and
 * waits up to `ms` for a close frame or the end of the connection. Returns a short text:
 * "1008", "dropped" (ended without a close frame), "reset", or "open".
 */
export async function closeSeen(socket, ms = 3000) {
  if (socket.destroyed && !socket.readable) return "dropped";
  const state = readFrames(socket);
  const until = Date.now() + ms;
  while (Date.now() < until && state.closeCode === undefined && !state.ended) await new Promise((r) => setTimeout(r, 20));
  if (state.closeCode !== undefined) return String(state.closeCode);
  return state.ended ? "dropped" : "open";
}

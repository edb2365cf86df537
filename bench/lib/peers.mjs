// The four peers under test, behind one small interface so the load loop is the
// same code for all of them:
//
//   serve(opts)    -> { port, first(): Promise<Remote>, count(): number, all(): Remote[], close() }
//                     (all(): every connection's remote, kept only with opts.keepAll, for
//                     scaling.mjs; without it nothing more is retained than the first)
//   connect(port)  -> { remote: Remote, close() }
//   Remote         =  { call(payload): Promise<Uint8Array>, hello(): Promise<Uint8Array> }
//
// Both ends of every peer serve the same two procedures: `echo` returns the request
// payload, `hello` returns the 10 bytes "helloworld" (the Go bench's reply).
// Every peer except raw ws runs each call with a 10 s timeout, because that is how
// they are used for real and each library then arms a timer per call; raw ws is
// the floor and has none.
import { createServer } from "node:http";
import v8 from "node:v8";
import WebSocket, { WebSocketServer } from "ws";
// Each peer's library is imported only by the processes that run that peer: merely
// loading socket.io into a process was seen to change V8's collection pattern there
// (major collections every ~250 ms at 200k calls/s), which moved every other peer's
// p99 by several milliseconds.
// BENCH_BIMUX_NODE=/path/to/dist/index.js benches another build of @bimux/node
// (a prototype in a scratch copy) as "bimux"; BENCH_VARIANTS="name=/path/index.js,…"
// adds builds as extra peers (not run unless named in --peers), for before/after figures.
let createBirpc;

const HOST = "127.0.0.1";
const TIMEOUT = 10_000;
export const HELLO = Buffer.from("helloworld");
const EMPTY = new Uint8Array(0);

/**
 * Resolves with the first remote a server sees; later ones are not retained, unless
 * `keepAll`: then every remote is, in `all` (and leaves it when `drop` is called).
 */
function firstOf(keepAll = false) {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  let seen = false;
  const all = new Set();
  return {
    offer(make) {
      if (!keepAll && seen) return undefined;
      const remote = make();
      if (keepAll) all.add(remote);
      if (!seen) {
        seen = true;
        resolve(remote);
      }
      return remote;
    },
    drop: (remote) => all.delete(remote),
    all: () => [...all],
    promise,
  };
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve(server.address().port));
  });
}

// ---------------------------------------------------------------- raw ws
// Message: [kind u8: 0 request, 1 response][id u32 LE][op u8: 0 echo, 1 hello][payload].
// The callee answers with a fresh buffer (header + copy of the reply), as any RPC
// layer must; the caller correlates by id. Nothing else: this is the floor.
const REQ = 0;
const RES = 1;
const OP_ECHO = 0;
const OP_HELLO = 1;

function frame(kind, id, op, body) {
  const out = Buffer.allocUnsafe(6 + body.length);
  out[0] = kind;
  out.writeUInt32LE(id, 1);
  out[5] = op;
  out.set(body, 6);
  return out;
}

// Waiting calls by id in a null-prototype object, not a Map: a Map with an entry set and
// deleted per call rebuilds its table every few hundred calls, each discarded table pointing
// at the next, and once a major collection has promoted one, every call after it is promoted
// too (the GC storm issue 17 chased; see RESULTS.md). An object's number dictionary has no
// such chain (socket.io keeps its acks so; bimux's NumberTable too). Not a preallocated ring:
// 10,000 connections of the scaling curves each holding one would fill the heap.
function rawEndpoint(ws) {
  const pending = Object.create(null);
  let next = 0;
  ws.on("message", (buf) => {
    const id = buf.readUInt32LE(1);
    if (buf[0] === REQ) {
      const op = buf[5];
      ws.send(frame(RES, id, op, op === OP_ECHO ? buf.subarray(6) : HELLO));
      return;
    }
    const settle = pending[id];
    if (settle) {
      delete pending[id];
      settle.resolve(buf.subarray(6));
    }
  });
  ws.on("close", () => {
    for (const id in pending) {
      const settle = pending[id];
      delete pending[id];
      settle.reject(new Error("closed"));
    }
  });
  ws.on("error", () => {});
  const call = (op, body) =>
    new Promise((resolve, reject) => {
      next = (next + 1) >>> 0;
      pending[next] = { resolve, reject };
      ws.send(frame(REQ, next, op, body));
    });
  return { call: (body) => call(OP_ECHO, body), hello: () => call(OP_HELLO, EMPTY) };
}

/**
 * A peer that speaks over plain `ws` sockets, with `endpoint` making each side's
 * procedures, once `prepare` (if any) has loaded what they need.
 */
function overWs(endpoint, prepare = async () => {}) {
  return {
    async serve({ keepAll = false } = {}) {
      await prepare();
      const http = createServer();
      const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 64 << 20 });
      const first = firstOf(keepAll);
      wss.on("connection", (socket) => {
        const remote = endpoint(socket);
        if (first.offer(() => remote) && keepAll) socket.once("close", () => first.drop(remote));
      });
      const port = await listen(http);
      return {
        port,
        first: () => first.promise,
        all: first.all,
        count: () => wss.clients.size,
        close: () => closeHttp(http, () => wss.clients.forEach((c) => c.terminate())),
      };
    },
    async connect(port) {
      await prepare();
      const socket = new WebSocket(`ws://${HOST}:${port}/`, { perMessageDeflate: false, maxPayload: 64 << 20 });
      await new Promise((resolve, reject) => {
        socket.once("open", resolve);
        socket.once("error", reject);
      });
      return { remote: endpoint(socket), close: () => socket.terminate() };
    },
  };
}

const ws = overWs(rawEndpoint);

// ---------------------------------------------------------------- socket.io
// emitWithAck with a timeout, websocket transport only, no compression. A Buffer
// argument travels as a binary attachment: a text packet plus a binary message.
function ioHandlers(socket) {
  socket.on("echo", (data, ack) => ack(data));
  socket.on("hello", (ack) => ack(HELLO));
}

function ioRemote(socket) {
  return {
    call: (body) => socket.timeout(TIMEOUT).emitWithAck("echo", body),
    hello: () => socket.timeout(TIMEOUT).emitWithAck("hello"),
  };
}

const socketio = {
  async serve({ keepAll = false } = {}) {
    const { Server: IoServer } = await import("socket.io");
    const http = createServer();
    const io = new IoServer(http, {
      transports: ["websocket"],
      perMessageDeflate: false,
      httpCompression: false,
      serveClient: false,
      maxHttpBufferSize: 64 << 20,
    });
    const first = firstOf(keepAll);
    io.on("connection", (socket) => {
      ioHandlers(socket);
      const remote = first.offer(() => ioRemote(socket));
      if (remote && keepAll) socket.once("disconnect", () => first.drop(remote));
    });
    const port = await listen(http);
    return {
      port,
      first: () => first.promise,
      all: first.all,
      count: () => io.engine.clientsCount,
      close: () => new Promise((resolve) => io.close(() => resolve())),
    };
  },
  async connect(port) {
    const { io: ioClient } = await import("socket.io-client");
    const socket = ioClient(`http://${HOST}:${port}`, {
      transports: ["websocket"],
      perMessageDeflate: false,
      forceNew: true,
      reconnection: false,
    });
    ioHandlers(socket);
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    return { remote: ioRemote(socket), close: () => socket.disconnect() };
  },
};

// ---------------------------------------------------------------- birpc over ws
// birpc is transport- and format-agnostic. Serializer: node:v8 serialize/deserialize
// (the structured-clone format), which carries Uint8Array/Buffer arguments as raw
// bytes, with no base64 or JSON, and costs one copy each way. It is the cheapest
// general-purpose choice that keeps birpc's message objects ({t, i, m, a, r}) as they are.
function birpcEndpoint(socket) {
  socket.on("error", () => {});
  const rpc = createBirpc(
    { echo: (data) => data, hello: () => HELLO },
    {
      post: (data) => socket.send(data),
      on: (fn) => socket.on("message", (data) => fn(data)),
      serialize: (value) => v8.serialize(value),
      deserialize: (bytes) => v8.deserialize(bytes),
      timeout: TIMEOUT,
    },
  );
  socket.on("close", () => rpc.$close?.());
  return { call: (body) => rpc.echo(body), hello: () => rpc.hello() };
}

const birpc = overWs(birpcEndpoint, async () => {
  createBirpc ??= (await import("birpc")).createBirpc;
});

// ---------------------------------------------------------------- bimux
const ROUTE_ECHO = 1;
const ROUTE_HELLO = 2;
const RPC_OPTIONS = { timeout: TIMEOUT };
// A variant named "…#notimeout" calls without a timeout (no timer per call): the most
// any cheaper timeout bookkeeping could save.
const NO_TIMEOUT = { timeout: Infinity };
const bimuxHandlers = { [ROUTE_ECHO]: (_route, data) => data, [ROUTE_HELLO]: () => HELLO };

function bimuxRemote(muxer, options = RPC_OPTIONS) {
  return {
    call: (body) => muxer.rpc(ROUTE_ECHO, body, options),
    hello: () => muxer.rpc(ROUTE_HELLO, EMPTY, options),
  };
}

const makeBimux = (load, options = RPC_OPTIONS) => ({
  async serve({ keepAll = false } = {}) {
    const { serve: bimuxServe } = await load();
    const server = await bimuxServe({ host: HOST, port: 0, path: "/mux", handlers: bimuxHandlers, onError: () => {} });
    const first = firstOf(keepAll);
    // Take every connection off the queue, as an application would; keep only the first
    // (or all of them, with keepAll).
    (async () => {
      for await (const muxer of server.connections) {
        const remote = first.offer(() => bimuxRemote(muxer, options));
        if (remote && keepAll) muxer.wait().then(() => first.drop(remote));
      }
    })();
    return { port: server.port, first: () => first.promise, all: first.all, count: () => server.peers.size, close: () => server.close() };
  },
  async connect(port) {
    const { dial: bimuxDial } = await load();
    const muxer = await bimuxDial(`ws://${HOST}:${port}/mux`, { handlers: bimuxHandlers, onError: () => {} });
    return { remote: bimuxRemote(muxer, options), close: () => muxer.close() };
  },
});
const bimux = makeBimux(() => import(process.env.BENCH_BIMUX_NODE ?? "@bimux/node"));

function closeHttp(http, cut) {
  return new Promise((resolve) => {
    cut();
    http.close(() => resolve());
    http.closeAllConnections?.();
  });
}

export const peers = { ws, socketio, birpc, bimux };
export const peerNames = Object.keys(peers);
for (const spec of (process.env.BENCH_VARIANTS ?? "").split(",").filter(Boolean)) {
  const [name, target] = spec.split("=");
  const [path, flag] = target.split("#");
  peers[name] = makeBimux(() => import(path), flag === "notimeout" ? NO_TIMEOUT : RPC_OPTIONS);
}

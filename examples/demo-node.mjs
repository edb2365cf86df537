// The server calls into a client that dialed in: the NAT story of bimux in one process.
// Run it with `npm run demo`.
import { dial, serve } from "@bimux/node";

const enc = new TextEncoder();
const dec = new TextDecoder();

// Route numbers are the application's to choose (int32); both ends just agree on them.
const HOSTNAME = 1;
const ADD = 2;
const LOG = 3;

// The server: it waits for agents to dial in, then calls them.
const server = await serve({
  host: "127.0.0.1",
  port: 0,
  path: "/mux",
  onConnection: (agent, request) => {
    agent.id = new URL(request.url, "http://localhost").searchParams.get("agent") ?? agent.id;
  },
  // Agents can call the server too.
  onOneway: (route, data, agent) => console.log(`server <- ${agent.id} one-way route ${route}: ${dec.decode(data)}`),
});
console.log(`server listening on ws://127.0.0.1:${server.port}/mux`);

// The agent: behind NAT it can only dial out, and serves the server's calls.
const agent = await dial(`ws://127.0.0.1:${server.port}/mux?agent=agent-1`, {
  handlers: {
    [HOSTNAME]: () => enc.encode(`agent-1 (pid ${process.pid})`),
    [ADD]: (_route, data) => {
      const [a, b] = JSON.parse(dec.decode(data));
      return enc.encode(JSON.stringify(a + b));
    },
  },
});

// The server calls into the agent by its id.
for await (const peer of server.connections) {
  console.log(`server: ${peer.id} connected`);
  const who = await peer.rpc(HOSTNAME, new Uint8Array(), { timeout: 1000 });
  console.log(`server -> ${peer.id} rpc route ${HOSTNAME}: ${dec.decode(who)}`);
  const sum = await server.peers.get("agent-1").rpc(ADD, enc.encode("[40, 2]"), { timeout: 1000 });
  console.log(`server -> ${peer.id} rpc route ${ADD} [40, 2]: ${dec.decode(sum)}`);
  try {
    await peer.rpc(99, new Uint8Array(), { timeout: 1000 });
  } catch (error) {
    console.log(`server -> ${peer.id} rpc route 99: ${error.code} (${error.message})`);
  }
  break;
}

await agent.send(LOG, enc.encode("hello from behind the NAT"));
await new Promise((resolve) => setTimeout(resolve, 50));
await server.close();
const closed = await agent.wait();
console.log(`agent: connection closed by the ${closed.initiator} side, code ${closed.code} (${closed.reason})`);

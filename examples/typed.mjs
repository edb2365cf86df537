// Typed services (@bimux/services): the same server and agent as demo.mjs, with methods
// instead of routes and bytes. A TypeScript contract here (JSON on the wire); a .proto
// service works the same way (packages/services/README.md). Run it with `npm run demo`.
import { BimuxError, dial, serve } from "@bimux/node";
import { createClient, defineService, implement, serviceHandlers } from "@bimux/services";

// What the agent serves, and what the server serves: routes explicit, checked at startup.
// (In TypeScript, defineService<{ hostname(req: {}): { name: string }; … }> types both sides.)
const Agent = defineService({ hostname: { route: 1 }, add: { route: 2 }, log: { route: 3, oneway: true } }, { name: "Agent" });
const Control = defineService({ register: { route: 100 } }, { name: "Control" });

const server = await serve({
  host: "127.0.0.1",
  port: 0,
  path: "/mux",
  ...serviceHandlers(Control, {
    register: ({ name }, ctx, agent) => {
      if (!name) throw new BimuxError("invalid_argument", "an agent needs a name");
      agent.id = name;
      return { welcome: `welcome ${name}; I wait ${ctx.timeout} ms for you` };
    },
  }),
});

const agent = await dial(`ws://127.0.0.1:${server.port}/mux`);
implement(agent, Agent, {
  hostname: () => ({ name: `agent-1 (pid ${process.pid})` }),
  add: ({ a, b }) => {
    if (!Number.isFinite(a + b)) throw new BimuxError("out_of_range", `${a} + ${b} is no number`);
    return { sum: a + b };
  },
  log: ({ text }) => console.log(`agent <- server one-way: ${text}`),
});

// The agent calls the server: typed, with a deadline.
const control = createClient(Control, agent);
console.log(`agent -> server register: ${(await control.register({ name: "agent-1" }, { timeout: 1000 })).welcome}`);
try {
  await control.register({ name: "" });
} catch (error) {
  console.log(`agent -> server register(""): ${error.code} (${error.rawMessage})`);
}

// The server calls the agent, by its id.
const remote = createClient(Agent, server.peers.get("agent-1"));
console.log(`server -> agent-1 hostname: ${(await remote.hostname({}, { timeout: 1000 })).name}`);
console.log(`server -> agent-1 add(40, 2): ${(await remote.add({ a: 40, b: 2 })).sum}`);
try {
  await remote.add({ a: 1, b: "x" });
} catch (error) {
  console.log(`server -> agent-1 add(1, "x"): ${error.code} (${error.rawMessage})`);
}
await remote.log({ text: "hello, typed" });
await new Promise((resolve) => setTimeout(resolve, 50));
await server.close();

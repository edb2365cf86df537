// Recipe: name peers from what they prove (authenticate), never from what they claim
// (the URL). A peer's id is how the server finds it to call it: one that could pick
// its own id could take another's calls.
import { dial, serve } from "@bimux/node";

// Tokens to ids: in a real app, a session store, a signed JWT, a client certificate…
const TOKENS = new Map([
  ["token-of-agent-a", "agent-a"],
  ["token-of-agent-b", "agent-b"],
]);

const server = await serve({
  host: "127.0.0.1",
  port: 0,
  path: "/mux",
  authenticate: (request) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    const id = token && TOKENS.get(token);
    // { id } accepts and names the peer; false answers 401 before any WebSocket exists.
    return id ? { id } : false;
  },
});
const url = `ws://127.0.0.1:${server.port}/mux`;
const as = (token) => ({ headers: { authorization: `Bearer ${token}` }, handlers: { 1: () => new TextEncoder().encode(token) } });

// Agent A claims to be agent-b in the URL: the claim is ignored, the token decides.
const a = await dial(`${url}?id=agent-b`, as("token-of-agent-a"));
console.log(`peers: ${[...server.peers].map((peer) => peer.id).join(", ")}`);
console.log(`server.peers.get("agent-b"): ${server.peers.get("agent-b") ? "found" : "none"}`);

// No token, or a wrong one: refused with 401 before a WebSocket exists.
const stranger = await dial(url, as("made-up")).catch((error) => error);
console.log(`stranger: ${stranger.code} (${stranger.status})`);

// The server calls agent-a by its proven id.
const reply = await server.peers.get("agent-a").rpc(1, new Uint8Array());
console.log(`agent-a answers with its token's owner: ${new TextDecoder().decode(reply) === "token-of-agent-a"}`);

a.close();
await server.close();

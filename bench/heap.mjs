// Where a server's memory per idle connection goes: heap snapshots of a fresh server
// process before and after a client process opens N connections, summed by kind and
// constructor, shown per connection. Not part of `pnpm bench`; run it by hand:
//
//   node bench/heap.mjs [peer=bimux] [connections=2000]
import { fork } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [peer = "bimux", n = "2000"] = process.argv.slice(2);
const connections = Number(n);
const dir = join(here, "results", "heap");
mkdirSync(dir, { recursive: true });

const children = [];
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));
function spawn(args, execArgv = []) {
  const child = fork(join(here, "lib", "role.mjs"), args, { execArgv });
  children.push(child);
  let id = 0;
  const ready = new Promise((resolve) => child.on("message", (m) => m.ready && resolve(m)));
  const request = (cmd, params = {}) =>
    new Promise((resolve, reject) => {
      const my = ++id;
      const on = (m) => {
        if (m.id !== my) return;
        child.off("message", on);
        m.ok ? resolve(m) : reject(new Error(m.error));
      };
      child.on("message", on);
      child.send({ id: my, cmd, ...params });
    });
  return { ready, request };
}

/** Sums self size and count per "type:name" in a .heapsnapshot. */
function summarize(file) {
  const snap = JSON.parse(readFileSync(file, "utf8"));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [iType, iName, iSize] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const out = new Map();
  const { nodes, strings } = snap;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name = type === "string" || type === "concatenated string" || type === "sliced string" ? "(strings)" : strings[nodes[i + iName]];
    if (type === "code") name = "(code)";
    if (type === "array" || type === "hidden") name = name.replace(/\d+/g, "N");
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}:${name}`;
    const e = out.get(key) ?? { size: 0, count: 0 };
    e.size += nodes[i + iSize];
    e.count++;
    out.set(key, e);
  }
  return out;
}

const server = spawn(["server", peer], ["--expose-gc"]);
const { port } = await server.ready;
const before = await server.request("snapshot", { file: join(dir, `${peer}-before.heapsnapshot`) });
const client = spawn(["client", peer, String(port), "idle"]);
await client.ready;
await client.request("idle", { connections, batch: 250, port });
let after;
for (let i = 0; i < 50; i++) {
  after = await server.request("snapshot", { file: join(dir, `${peer}-after.heapsnapshot`) });
  if (after.connections >= connections) break;
}
const a = summarize(before.file);
const b = summarize(after.file);
const rows = [...b]
  .map(([key, e]) => {
    const base = a.get(key) ?? { size: 0, count: 0 };
    return { key, bytes: (e.size - base.size) / connections, count: (e.count - base.count) / connections };
  })
  .filter((r) => r.bytes > 8)
  .sort((x, y) => y.bytes - x.bytes);
const total = rows.reduce((s, r) => s + r.bytes, 0);
console.log(`${peer}: ${after.connections} connections; snapshot self sizes per connection, total ${total.toFixed(0)} B`);
console.log("| kind:constructor | bytes/conn | objects/conn |");
console.log("| --- | ---: | ---: |");
for (const r of rows.slice(0, 30)) console.log(`| ${r.key} | ${r.bytes.toFixed(0)} | ${r.count.toFixed(2)} |`);
process.exit(0);

// What typed services cost a page, bundled as an application's bundler ships it (the
// published builds resolved through the packages' exports, esbuild --bundle --minify,
// gzip -9: scripts/page-size.mjs). Prints a markdown table
// for RESULTS.md. Run after `pnpm run build`: `node bench/size-services.mjs`.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { measurePage } from "../scripts/page-size.mjs";

const bench = fileURLToPath(new URL(".", import.meta.url));
const generated = fileURLToPath(new URL("../packages/services/test/gen/demo/v1/tab_pb.ts", import.meta.url));
if (!existsSync(fileURLToPath(new URL("../packages/services/dist/index.js", import.meta.url)))) {
  console.error("size-services: packages/services/dist is missing; run `pnpm run build` first");
  process.exit(1);
}

// Each page dials, makes its clients and calls each once, so nothing is tree-shaken away.
const contract = `const Tab = defineService({ getTitle: { route: 1 }, notify: { route: 10, oneway: true } });`;
const pages = {
  "dial only (today's page)": `import { dial } from "@bimux/browser";
    export const run = () => dial("wss://example.com/mux");`,
  "one JSON-contract client (@bimux/services/contract)": `import { dial } from "@bimux/browser";
    import { createClient, defineService } from "@bimux/services/contract";
    ${contract}
    export const run = async () => createClient(Tab, await dial("wss://example.com/mux")).getTitle({ tabId: 1 });`,
  "one JSON-contract client (@bimux/services)": `import { dial } from "@bimux/browser";
    import { createClient, defineService } from "@bimux/services";
    ${contract}
    export const run = async () => createClient(Tab, await dial("wss://example.com/mux")).getTitle({ tabId: 1 });`,
  "one JSON-contract client + one protobuf client (runtime and generated code counted)": `import { dial } from "@bimux/browser";
    import { createClient, defineService } from "@bimux/services";
    import { Tab as ProtoTab } from ${JSON.stringify(generated)};
    ${contract}
    export const run = async () => {
      const muxer = await dial("wss://example.com/mux");
      return [await createClient(Tab, muxer).getTitle({ tabId: 1 }), await createClient(ProtoTab, muxer).getTitle({ tabId: 1 })];
    };`,
  "the same, also implementing both services": `import { dial } from "@bimux/browser";
    import { createClient, defineService, implement } from "@bimux/services";
    import { Tab as ProtoTab } from ${JSON.stringify(generated)};
    ${contract}
    export const run = async () => {
      const muxer = await dial("wss://example.com/mux");
      implement(muxer, Tab, { getTitle: () => ({ title: "t" }), notify() {} });
      implement(muxer, ProtoTab, { getTitle: () => ({ title: "t" }), notify() {} });
      return [await createClient(Tab, muxer).getTitle({ tabId: 1 }), await createClient(ProtoTab, muxer).getTitle({ tabId: 1 })];
    };`,
};

const rows = [];
for (const [name, contents] of Object.entries(pages)) {
  // Resolved from bench/, which depends on the packages as an application does.
  const { minified: code, gzipped, metafile } = await measurePage({ contents, resolveDir: bench });
  const inputs = Object.values(metafile.outputs)[0].inputs;
  const protobuf = Object.entries(inputs)
    .filter(([path]) => path.includes("@bufbuild/protobuf"))
    .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
  rows.push({ name, min: code.length, gzip: gzipped, protobuf });
}
const base = rows[0].gzip;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log("| page | minified | gzip -9 | over dial only | of which @bufbuild/protobuf (minified) |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const { name, min, gzip, protobuf } of rows) {
  console.log(`| ${name} | ${kb(min)} | ${gzip.toLocaleString("en")} B | ${gzip === base ? "–" : `+${(gzip - base).toLocaleString("en")} B`} | ${protobuf ? kb(protobuf) : "–"} |`);
}

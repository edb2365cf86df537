import { fileURLToPath } from "node:url";
import { defineConfig } from "tsup";
// @ts-expect-error: a plain ES module, shared with scripts/size.mjs
import { mangleProps } from "./mangle.mjs";
// @ts-expect-error: a plain ES module, shared with the docs check
import { productionMessages } from "../../scripts/messages.mjs";

// Core is inlined in every output: a page gets one self-contained file, and the
// package has no runtime dependency whose version could drift from the one tested.
const shared = {
  sourcemap: true,
  target: "es2022",
  tsconfig: "tsconfig.json",
  noExternal: ["@bimux/core"],
  // Resolves core through its `browser` export condition: the page's timers.
  platform: "browser",
  esbuildOptions(options: { mangleProps?: RegExp }) {
    options.mangleProps = mangleProps;
  },
} as const;

const coreSources = fileURLToPath(new URL("../core/src/", import.meta.url));

/**
 * The production build compiles core from its sources, as its `browser` build does (the
 * page's timers), so that one pass rewrites the messages of both packages with one set of ids.
 */
const coreFromSources = {
  name: "bimux-core-from-sources",
  setup(build: {
    onResolve(options: { filter: RegExp }, callback: (args: { path: string; importer: string }) => { path: string } | undefined): void;
  }) {
    build.onResolve({ filter: /^@bimux\/core$/ }, () => ({ path: `${coreSources}index.ts` }));
    // The page's timers, and the messages' ids in place of their text.
    build.onResolve({ filter: /^\.\/(timers|text)\.js$/ }, ({ path, importer }) =>
      importer.startsWith(coreSources) ? { path: `${coreSources}${path === "./timers.js" ? "timers.browser" : "text.production"}.ts` } : undefined,
    );
  },
};

export default defineConfig([
  {
    ...shared,
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    // Core's types are inlined from its sources: its built d.ts share a chunk file this package does not ship.
    dts: { resolve: ["@bimux/core"], compilerOptions: { paths: { "@bimux/core": ["../core/src/index.ts"] } } },
    // Three builds run at once: this one's clean must spare the others' output.
    clean: ["!bimux.global.js*", "!index.production.js*", "!ERRORS.md"],
  },
  {
    ...shared,
    // What the `production` export condition gives bundlers building a page for production:
    // the same code, with bimux's own error messages as ids (see scripts/messages.mjs).
    entry: { "index.production": "src/index.ts" },
    format: ["esm"],
    esbuildPlugins: [coreFromSources, productionMessages({ docs: fileURLToPath(new URL("./dist/ERRORS.md", import.meta.url)) })],
  },
  {
    ...shared,
    // For a <script> tag without a bundler: everything on `window.bimux`.
    entry: { bimux: "src/index.ts" },
    format: ["iife"],
    globalName: "bimux",
    minify: true,
  },
]);

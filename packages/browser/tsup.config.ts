import { fileURLToPath } from "node:url";
import { defineConfig } from "tsup";
// @ts-expect-error: a plain ES module, shared with scripts/size.mjs
import { mangleProps } from "./mangle.mjs";
// @ts-expect-error: a plain ES module, shared with the docs check
import { productionMessages } from "../../scripts/messages.mjs";

const coreSources = fileURLToPath(new URL("../core/src/", import.meta.url));

/**
 * Core is compiled from its sources into every output: a page gets one self-contained
 * file, the package has no runtime dependency whose version could drift from the one
 * tested, and `@bimux/core/internal` (what this package takes from core beyond its API)
 * needs no published entry point. With the page's timers, as core's `browser` build has
 * them; for the production build, with the messages' ids in place of their text.
 */
const coreFromSources = (production: boolean) => ({
  name: "bimux-core-from-sources",
  setup(build: {
    onResolve(options: { filter: RegExp }, callback: (args: { path: string; importer: string }) => { path: string } | undefined): void;
  }) {
    build.onResolve({ filter: /^@bimux\/core(\/internal)?$/ }, ({ path }) => ({ path: `${coreSources}${path.endsWith("internal") ? "internal" : "index"}.ts` }));
    build.onResolve({ filter: /^\.\/(timers|text)\.js$/ }, ({ path, importer }) => {
      if (!importer.startsWith(coreSources)) return undefined;
      if (path === "./timers.js") return { path: `${coreSources}timers.browser.ts` };
      return production ? { path: `${coreSources}text.production.ts` } : undefined;
    });
  },
});

const shared = {
  sourcemap: true,
  target: "es2022",
  tsconfig: "tsconfig.json",
  platform: "browser",
  esbuildOptions(options: { mangleProps?: RegExp }) {
    options.mangleProps = mangleProps;
  },
} as const;

export default defineConfig([
  {
    ...shared,
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    // Core's types are inlined from its sources: its built d.ts share a chunk file this package does not ship.
    dts: {
      resolve: ["@bimux/core"],
      compilerOptions: { stripInternal: true, paths: { "@bimux/core": ["../core/src/index.ts"], "@bimux/core/internal": ["../core/src/internal.ts"] } },
    },
    esbuildPlugins: [coreFromSources(false)],
    // Three builds run at once: this one's clean must spare the others' output.
    clean: ["!bimux.global.js*", "!index.production.js*", "!ERRORS.md"],
  },
  {
    ...shared,
    // What the `production` export condition gives bundlers building a page for production:
    // the same code, with bimux's own error messages as ids (see scripts/messages.mjs).
    entry: { "index.production": "src/index.ts" },
    format: ["esm"],
    esbuildPlugins: [coreFromSources(true), productionMessages({ docs: fileURLToPath(new URL("./dist/ERRORS.md", import.meta.url)) })],
  },
  {
    ...shared,
    // For a <script> tag without a bundler: everything on `window.bimux`.
    entry: { bimux: "src/index.ts" },
    format: ["iife"],
    globalName: "bimux",
    minify: true,
    esbuildPlugins: [coreFromSources(false)],
  },
]);

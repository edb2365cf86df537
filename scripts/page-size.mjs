// How a page's cost is measured, for every script that reports one (`npm run size`,
// bench/page-floor.mjs, bench/size-services.mjs): what an application's bundler ships,
// `esbuild --bundle --minify` (esm, browser, es2022) then gzip -9. No plugin, no mangling:
// only the caller's entry, where it resolves from, and its aliases.
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

/**
 * Bundles `contents` (an entry module, TypeScript allowed) resolved from `resolveDir`.
 * Returns the minified bytes, their gzip -9 size, and esbuild's metafile (which inputs went in).
 */
export async function measurePage({ contents, resolveDir, alias }) {
  const result = await build({
    stdin: { contents, resolveDir, sourcefile: "page.ts", loader: "ts" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "error",
    ...(alias ? { alias } : {}),
  });
  const minified = result.outputFiles[0].contents;
  return { minified, gzipped: gzipSync(minified, { level: 9 }).length, metafile: result.metafile };
}

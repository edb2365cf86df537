import { build } from "esbuild";
import { gzipSync } from "node:zlib";
const re = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
const r = await build({entryPoints:["/work/main/packages/browser/src/index.ts"],bundle:true,minify:true,format:"esm",platform:"browser",target:"es2022",write:false,metafile:true, mangleProps: re, stdin: undefined});
const s = await build({stdin:{contents:'export { dial } from "./src/index.ts";',resolveDir:"/work/main/packages/browser/",sourcefile:"app.js"},bundle:true,minify:true,format:"esm",platform:"browser",target:"es2022",write:false,metafile:true, mangleProps: re, alias:{"@bimux/core":"/work/main/packages/core/src/index.ts"}});
const b = s.outputFiles[0].contents; console.log("min", b.length, "gz", gzipSync(b,{level:9}).length);
for (const [k,v] of Object.entries(s.metafile.outputs)) for (const [f,i] of Object.entries(v.inputs)) console.log(i.bytesInOutput, f);

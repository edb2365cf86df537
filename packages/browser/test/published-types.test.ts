// The published d.ts of @bimux/core and @bimux/browser, as an application's TypeScript sees
// them with skipLibCheck off. Run after `pnpm run build`, as the test command does.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const packages = fileURLToPath(new URL("../../", import.meta.url));

function diagnostics(source: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "bimux-consumer-"));
  mkdirSync(join(dir, "node_modules/@bimux"), { recursive: true });
  for (const name of ["core", "browser", "node"]) symlinkSync(join(packages, name), join(dir, "node_modules/@bimux", name));
  writeFileSync(join(dir, "package.json"), '{ "type": "module" }');
  writeFileSync(join(dir, "app.ts"), source);
  const program = ts.createProgram([join(dir, "app.ts")], {
    strict: true, noEmit: true, skipLibCheck: false, target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, lib: ["lib.es2022.d.ts", "lib.dom.d.ts"], types: [], typeRoots: [join(packages, "../node_modules/@types")],
  });
  try {
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Each case compiles a small program against the built types with the DOM and Node libs: seconds each, more on a busy machine.
describe("BimuxError's published type", { timeout: 60_000 }, () => {
  it("lets an application's subclass have a symbol-keyed member", () => {
    expect(diagnostics(`
      import { BimuxError } from "@bimux/core";
      export class AppError extends BimuxError {
        get [Symbol.toStringTag](): string { return "AppError"; }
      }`)).toEqual([]);
  });

  it("has no symbol index signature: an Error with the same fields still fits it", () => {
    expect(diagnostics(`
      import { BimuxError, type ErrorCode } from "@bimux/core";
      interface Shape extends Error { readonly code: ErrorCode; readonly remote: boolean; readonly rawMessage: string; readonly status: number | undefined }
      declare const fake: Shape;
      export const error: BimuxError = fake;`)).toEqual([]);
  });

  it("is one class and one Muxer for every package: what dial resolves to is core's Muxer", () => {
    expect(diagnostics(`
      import { Muxer, BimuxError } from "@bimux/core";
      import { dial as dialPage, BimuxError as PageError } from "@bimux/browser";
      import { dial as dialNode, BimuxError as NodeError } from "@bimux/node";
      export async function connect(): Promise<Muxer[]> {
        const page: Muxer = await dialPage("ws://127.0.0.1:1/mux");
        const node: Muxer = await dialNode("ws://127.0.0.1:1/mux");
        return [page, node];
      }
      export const same: typeof BimuxError[] = [PageError, NodeError];`)).toEqual([]);
  });

  it("core's and the browser's BimuxError still fit each other", () => {
    expect(diagnostics(`
      import { BimuxError as CoreError } from "@bimux/core";
      import { BimuxError as PageError } from "@bimux/browser";
      export const a: CoreError = new PageError("timeout", "x");
      export const b: PageError = new CoreError("timeout", "x");`)).toEqual([]);
  });
});

// The types, checked twice: by `pnpm typecheck` (tsc --strict over this file: each line
// marked as expecting an error must be one), and by the last test, which compiles a user's file
// with a wrong field name and expects tsc to refuse it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Muxer } from "@bimux/core";
import ts from "typescript";
import { describe, expect, expectTypeOf, it } from "vitest";
import { createClient, defineService, implement, type Client, type Implementation } from "@bimux/services";
import { Tab, type GetTitleResponse } from "./gen/demo/v1/tab_pb.js";

const Contract = defineService<{ getTitle(req: { tabId: number }): { title: string }; notify(n: { text: string }): void }>(
  { getTitle: { route: 1 }, notify: { route: 10, oneway: true } },
);

/** Compile-time checks only: declared, never called. */
function checks(muxer: Muxer) {
  const proto = createClient(Tab, muxer);
  expectTypeOf(proto.getTitle({ tabId: 1 }, { timeout: 5 })).toEqualTypeOf<Promise<GetTitleResponse>>();
  // @ts-expect-error a field the message does not have
  void proto.getTitle({ tabid: 1 });
  // @ts-expect-error a field of the wrong type
  void proto.getTitle({ tabId: "1" });
  // @ts-expect-error a method the service does not have
  void proto.getTitel;

  const contract = createClient(Contract, muxer);
  expectTypeOf(contract.getTitle({ tabId: 1 })).toEqualTypeOf<Promise<{ title: string }>>();
  expectTypeOf(contract.notify({ text: "" })).toEqualTypeOf<Promise<void>>();
  // @ts-expect-error a field the request does not have
  void contract.getTitle({ tabid: 1 });
  // @ts-expect-error a field the request must have
  void contract.getTitle({});

  implement(muxer, Tab, {
    getTitle: (req, ctx) => {
      expectTypeOf(req.tabId).toEqualTypeOf<number>();
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
      return { title: "t" };
    },
    // A method returning google.protobuf.Empty may return nothing.
    notify(note) {
      expectTypeOf(note.text).toEqualTypeOf<string>();
    },
  });
  implement(muxer, Tab, {
    // @ts-expect-error a reply field the message does not have
    getTitle: () => ({ titel: "t" }),
    notify() {},
  });
  // @ts-expect-error a method left out
  implement(muxer, Contract, { getTitle: async () => ({ title: "t" }) });
  implement(muxer, Contract, {
    // @ts-expect-error a reply of the wrong type
    getTitle: () => ({ title: 1 }),
    notify() {},
  });
  // @ts-expect-error a route must be given for each method
  defineService<{ a(r: number): number; b(r: number): number }>({ a: { route: 1 } });
  // @ts-expect-error only a method returning void may be one-way
  defineService<{ a(r: number): number }>({ a: { route: 1, oneway: true } });

  expectTypeOf<Client<typeof Contract>>().toHaveProperty("getTitle");
  expectTypeOf<Implementation<typeof Tab>>().toHaveProperty("notify");
}

const repo = fileURLToPath(new URL("../../..", import.meta.url));

describe("types", () => {
  it("the checks above are compiled, not run", () => {
    expect(typeof checks).toBe("function");
  });

  it("tsc --strict refuses a user's file that passes a wrong field name, and accepts it fixed", () => {
    const dir = mkdtempSync(join(tmpdir(), "bimux-services-types-"));
    try {
      const source = (field: string) => `
import { createClient } from "@bimux/services";
import type { Muxer } from "@bimux/core";
import { Tab } from ${JSON.stringify(join(repo, "packages/services/test/gen/demo/v1/tab_pb.js"))};
export async function title(muxer: Muxer): Promise<string> {
  const tab = createClient(Tab, muxer);
  return (await tab.getTitle({ ${field}: 1 }, { timeout: 1000 })).title;
}
`;
      const compile = (field: string) => {
        const file = join(dir, `app-${field}.ts`);
        writeFileSync(file, source(field));
        const program = ts.createProgram([file], {
          strict: true,
          noEmit: true,
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.ESNext,
          moduleResolution: ts.ModuleResolutionKind.Bundler,
          lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
          types: [],
          skipLibCheck: true,
          paths: {
            "@bimux/services": [join(repo, "packages/services/src/index.ts")],
            "@bimux/core": [join(repo, "packages/core/src/index.ts")],
          },
        });
        return ts.getPreEmitDiagnostics(program).map((d) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      };
      const wrong = compile("tabid");
      expect(wrong).toHaveLength(1);
      expect(wrong[0]).toMatch(/^TS2561: Object literal may only specify known properties, but 'tabid' does not exist in type 'MessageInit<GetTitleRequest>'\. Did you mean to write 'tabId'\?$/);
      expect(compile("tabId")).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

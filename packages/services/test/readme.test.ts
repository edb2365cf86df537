// The README's "Typed services" walk-through, as a newcomer follows it (test-support/readme.ts
// writes its files into an empty folder): `buf generate` finds the package's options.proto,
// and `tsc` (strict) accepts the server and the page, and refuses a wrong field name.
// e2e/tests/readme.spec.ts runs the result in Chromium.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type Service } from "@bimux/services";
import { readmeFiles, readmeProject, type ReadmeProject } from "../../../test-support/readme.js";

let project: ReadmeProject;
beforeAll(() => {
  project = readmeProject();
});
afterAll(() => project?.remove());

describe("README: Typed services", () => {
  it("names the files a newcomer writes", () => {
    expect([...readmeFiles().keys()].sort()).toEqual([
      "buf.gen.yaml",
      "buf.yaml",
      "proto/tabs/v1/tabs.proto",
      "public/index.html",
      "src/page.ts",
      "src/server.ts",
      "tsconfig.json",
    ]);
  });

  it("`buf generate` finds bimux/v1/options.proto in the package, and `tsc` (strict) accepts the server and the page", () => {
    const generate = project.run("buf", ["generate"]);
    expect(generate.stderr).toBe("");
    expect(generate.status).toBe(0);
    expect(existsSync(join(project.dir, "src/gen/tabs/v1/tabs_pb.ts"))).toBe(true);
    expect(existsSync(join(project.dir, "src/gen/bimux/v1/options_pb.ts"))).toBe(true);
    const tsc = project.run("tsc", ["-p", "."]);
    expect(tsc.stdout).toBe("");
    expect(tsc.status).toBe(0);
  }, 60_000);

  it("a wrong field name is a compile error", () => {
    const page = join(project.dir, "src/page.ts");
    const original = readFileSync(page, "utf8");
    try {
      writeFileSync(page, original.replace('server.hello({ name: "tab 1" }', 'server.hello({ nmae: "tab 1" }'));
      const tsc = project.run("tsc", ["-p", "."]);
      expect(tsc.status).not.toBe(0);
      expect(tsc.stdout).toMatch(/src\/page\.ts\(\d+,\d+\): error TS(2353|2561): Object literal may only specify known properties, (and|but) 'nmae' does not exist/);
    } finally {
      writeFileSync(page, original);
    }
  }, 60_000);

  it("the generated services carry the routes and the one-way flag of the options", async () => {
    // Bundled to run here: createClient reads them as the page does. (tsc checked the types above.)
    const bundle = project.run("esbuild", ["src/gen/tabs/v1/tabs_pb.ts", "--bundle", "--format=esm", "--platform=node", "--outfile=out/tabs.mjs"]);
    expect(bundle.status).toBe(0);
    const { TabService, ServerService } = (await import(join(project.dir, "out/tabs.mjs"))) as Record<"TabService" | "ServerService", Service>;
    const sent: Array<[number, number]> = [];
    const peer = {
      rpc: async (route: number, data: Uint8Array) => (sent.push([route, data.length]), new Uint8Array()),
      send: async (route: number, data: Uint8Array) => void sent.push([-route, data.length]),
    };
    type Untyped = Record<string, (request: object) => Promise<unknown>>;
    const tab = createClient(TabService, peer) as unknown as Untyped;
    await tab.getTitle!({ tabId: 1 });
    await tab.notify!({ text: "x" });
    await (createClient(ServerService, peer) as unknown as Untyped).hello!({ name: "ab" });
    // GetTitle on route 1 (tab_id = 1: 2 bytes), Notify sent one-way on 10, Hello on 100.
    expect(sent).toEqual([[1, 2], [-10, 3], [100, 4]]);
  }, 60_000);
});

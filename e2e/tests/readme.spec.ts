// packages/services/README.md's "Typed services", run as a newcomer runs it: its files in an
// empty folder (test-support/readme.ts), `buf generate`, the page and the server bundled with
// the README's esbuild commands, `node dist/server.js`, and the page it prints opened in
// Chromium. packages/services/test/readme.test.ts checks the same files with tsc --strict.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { readmeProject } from "../../test-support/readme.js";
import { expect, test } from "../fixtures/test.js";

test("the README's server calls its page's TabService and the page the server's ServerService, not_found and invalid_argument included", async ({
  page,
}) => {
  // buf, esbuild and a server start: more than a spec's usual 20 s on a busy machine.
  test.setTimeout(120_000);
  const project = readmeProject();
  const server = { kill: () => {} };
  try {
    const step = (tool: "buf" | "esbuild", args: string[]) => {
      const run = project.run(tool, args);
      expect(run.status, `${tool} ${args.join(" ")}: ${run.stderr}`).toBe(0);
    };
    step("buf", ["generate"]);
    // The README's commands.
    step("esbuild", ["src/page.ts", "--bundle", "--format=esm", "--outfile=public/page.js"]);
    step("esbuild", ["src/server.ts", "--bundle", "--platform=node", "--format=esm", "--packages=external", "--outfile=dist/server.js"]);

    const child = spawn(process.execPath, ["dist/server.js"], { cwd: project.dir, env: { ...process.env, PORT: "0" } });
    server.kill = () => void child.kill("SIGKILL");
    const printed: string[] = [];
    let stderr = "";
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
    createInterface({ input: child.stdout }).on("line", (line) => printed.push(line));
    await expect.poll(() => printed[0], { message: `the server's first line (stderr: ${stderr})`, timeout: 10_000 }).toMatch(/^open http:\/\/localhost:\d+\/$/);

    const logged: string[] = [];
    page.on("console", (message) => logged.push(message.text()));
    await page.goto(printed[0]!.slice("open ".length));
    await expect.poll(() => printed.slice(1), { message: `stderr: ${stderr}` }).toEqual(["the page's title: my tab", "not_found: no tab 2"]);
    await expect
      .poll(() => [...logged].sort())
      .toEqual(['hello tab 1, the server waits 2000 ms for you', "invalid_argument: who are you?", 'the server saw "my tab"'].sort());
  } finally {
    server.kill();
    project.remove();
  }
});

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const child = fileURLToPath(new URL("./fixtures/log-child.mjs", import.meta.url));
const built = fileURLToPath(new URL("../dist/index.js", import.meta.url));

/** Runs the fixture in its own process with `env`; resolves to its output. */
function run(env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [child], { env: { ...process.env, ...env }, timeout: 15_000 }, (error, stdout, stderr) =>
      error ? reject(Object.assign(error, { stderr })) : resolve({ stdout, stderr }),
    );
  });
}

// debuglog reads NODE_DEBUG once, when the process starts: hence a child process, on the built package.
describe("NODE_DEBUG=bimux", () => {
  it("needs the built package", () => {
    expect(existsSync(built), "run `pnpm run build` first: the child process loads dist/").toBe(true);
  });

  it("logs connects, refusals with their reason, closes with code and reason, limits hit and protocol errors", async () => {
    const { stdout, stderr } = await run({ NODE_DEBUG: "bimux" });
    expect(stdout.trim().split("\n")).toEqual(["unavailable", "permission_denied", "unauthenticated", "1009", "1002", "done"]);
    const lines = stderr.split("\n").filter((line) => line.startsWith("BIMUX "));
    const has = (pattern: RegExp) => expect(lines.some((line) => pattern.test(line)), `${pattern} in:\n${lines.join("\n")}`).toBe(true);
    has(/refuse 127\.0\.0\.1:\d+ \/elsewhere: 404 no bimux server on path \/elsewhere/);
    has(/refuse 127\.0\.0\.1:\d+ \/mux origin https:\/\/evil\.example: 403 origin https:\/\/evil\.example not allowed/);
    has(/refuse 127\.0\.0\.1:\d+ \/mux: 401 authenticate returned false/);
    has(/connect agent-7 from 127\.0\.0\.1:\d+ \/mux/);
    has(/close agent-7: 1000 "bye" \(by remote\)$/);
    has(/close agent-7: 1009 .* limit hit: \[too_large\]/);
    has(/close agent-7: 1002 .* protocol error: \[protocol\]/);
    // The server's own close of what was left: every connection is accounted for.
    expect(lines.filter((line) => / connect /.test(line))).toHaveLength(3);
    expect(lines.filter((line) => / close /.test(line))).toHaveLength(3);
  });

  it("prints nothing without NODE_DEBUG", async () => {
    const { stderr } = await run({ NODE_DEBUG: "" });
    expect(stderr).not.toMatch(/BIMUX/);
  });
});

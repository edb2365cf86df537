// examples/typed.mjs, the typed half of `npm run demo`, run as a user runs it: against the
// built packages (`pnpm run build` first, as npm test does).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

it("examples/typed.mjs: typed calls both ways, and typed errors with their codes", () => {
  const repo = fileURLToPath(new URL("../../..", import.meta.url));
  const run = spawnSync(process.execPath, ["examples/typed.mjs"], { cwd: repo, encoding: "utf8", timeout: 20_000 });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  expect(run.stdout.replace(/pid \d+/, "pid N").trim().split("\n")).toEqual([
    "agent -> server register: welcome agent-1; I wait 1000 ms for you",
    'agent -> server register(""): invalid_argument (an agent needs a name)',
    "server -> agent-1 hostname: agent-1 (pid N)",
    "server -> agent-1 add(40, 2): 42",
    'server -> agent-1 add(1, "x"): out_of_range (1 + x is no number)',
    "agent <- server one-way: hello, typed",
  ]);
});

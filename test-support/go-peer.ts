// The Go peer of interop/go (the Go original's libraries: gorilla/websocket and golang/protobuf
// 1.3.x), built for the tests that talk to it: GOPATH mode on Debian's sources, no module proxy.
// Without Go or those sources the build throws, saying how to install them: a test fails, it
// never skips.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const GOPATH = process.env.BIMUX_GOPATH ?? "/usr/share/gocode";
const INSTALL =
  "apt-get install -y golang-go golang-github-gorilla-websocket-dev golang-goprotobuf-dev " +
  "(scripts/env.sh does this when run as root; or set BIMUX_GOPATH to a GOPATH holding " +
  "github.com/gorilla/websocket and github.com/golang/protobuf 1.3.x)";

/** A built Go peer: its binary, in a directory of its own made at test time. */
export interface GoPeerBuild {
  readonly binary: string;
  /** Deletes the binary and its directory. */
  remove(): void;
}

/** Builds interop/go/peer into a fresh temporary directory. */
export function buildGoPeer(): GoPeerBuild {
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.error || go.status !== 0) {
    throw new Error(`the Go interop tests need the Go toolchain, and \`go\` was not found. Install it: ${INSTALL}`);
  }
  for (const pkg of ["github.com/gorilla/websocket", "github.com/golang/protobuf/proto"]) {
    if (!existsSync(join(GOPATH, "src", pkg))) {
      throw new Error(`the Go interop tests need the source of ${pkg} in ${GOPATH}/src. Install it: ${INSTALL}`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "bimux-go-peer-"));
  const binary = join(dir, "peer");
  const build = spawnSync("go", ["build", "-o", binary, "./interop/go/peer"], {
    cwd: repo,
    encoding: "utf8",
    timeout: 120_000,
    env: {
      ...process.env,
      GO111MODULE: "off",
      GOPATH,
      GOFLAGS: "",
      GOCACHE: process.env.GOCACHE ?? join(repo, ".cache", "go-build"),
    },
  });
  const remove = () => rmSync(dir, { recursive: true, force: true });
  if (build.status !== 0) {
    remove();
    throw new Error(`building the Go peer failed (${build.error?.message ?? `exit ${build.status}`}):\n${build.stderr}\n${INSTALL}`);
  }
  return { binary, remove };
}

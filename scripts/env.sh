#!/usr/bin/env bash
# Runs a command with the project's toolchain in place, installing it first when
# missing: the pinned pnpm, the dependencies, and the built packages. All that a
# fresh machine with Node 20 and npm needs. Usage: bash scripts/env.sh [--test] CMD [ARGS…]
# --test also installs what only the tests need (chromium, Go, nats-server), see below;
# --nats only nats-server, for `npm run demo:cluster`.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=false
nats=false
if [ "${1:-}" = "--test" ]; then
  tests=true
  nats=true
  shift
elif [ "${1:-}" = "--nats" ]; then
  nats=true
  shift
fi

want=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null || true)" != "$want" ]; then
  # A global install needs a writable npm prefix; fall back to one inside the repo.
  if ! npm install -g "pnpm@$want" --no-fund --no-audit >/dev/null 2>&1; then
    npm install --prefix .cache/pnpm "pnpm@$want" --no-fund --no-audit >/dev/null
    export PATH="$PWD/.cache/pnpm/node_modules/.bin:$PATH"
  fi
fi

# Fast when nothing changed; --frozen-lockfile keeps CI honest about the lockfile.
pnpm install --frozen-lockfile --reporter=silent

# Debian packages the tests need, installed in one apt run when missing:
# - chromium for the e2e: Playwright cannot download a browser of its own here;
# - Go with Debian's sources of gorilla/websocket and golang/protobuf 1.3.5, from which
#   the Go interop test builds a Go peer in GOPATH mode (no Go module proxy needed), and
#   its protoc-gen-go 1.3, with which gen:check regenerates the peer's Go messages.
# - nats-server for @bimux/nats: its tests and `npm run demo:cluster` start a real one.
missing=""
if $nats; then
command -v nats-server >/dev/null || missing="nats-server"
fi
if $tests; then
[ -x /usr/bin/chromium ] || missing="$missing chromium"
gocode=/usr/share/gocode/src/github.com
if ! command -v go >/dev/null || ! command -v protoc-gen-go >/dev/null || [ ! -d "$gocode/gorilla/websocket" ] || [ ! -d "$gocode/golang/protobuf/proto" ]; then
  missing="$missing golang-go golang-github-gorilla-websocket-dev golang-goprotobuf-dev"
fi
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log=$(mktemp)
    # shellcheck disable=SC2086 # the package list is meant to split
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; } >"$log" 2>&1; then
      cat "$log" >&2
      echo "env.sh: installing$missing failed (above); the e2e, Go interop and NATS tests need them" >&2
      exit 1
    fi
    rm -f "$log"
  else
    echo "env.sh: missing Debian packages:$missing; not root on Debian, so install them yourself (apt-get install$missing) or the e2e, Go interop and NATS tests fail" >&2
  fi
fi

exec "$@"

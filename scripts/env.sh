#!/usr/bin/env bash
# Runs a command with the project's toolchain in place, installing it first when
# missing: the pinned pnpm, the dependencies, and the built packages. All that a
# fresh machine with Node 20 and npm needs. Usage: bash scripts/env.sh CMD [ARGS…]
set -euo pipefail
cd "$(dirname "$0")/.."

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

# The e2e drives Debian's chromium: Playwright cannot download a browser of its own here.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log=$(mktemp)
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1; then
      cat "$log" >&2
      echo "env.sh: installing chromium failed (above); the e2e tests need /usr/bin/chromium" >&2
      exit 1
    fi
    rm -f "$log"
  else
    echo "env.sh: /usr/bin/chromium is missing and this is not root on Debian; install it (apt-get install chromium) or the e2e tests fail" >&2
  fi
fi

# The Go interop test builds a Go peer in GOPATH mode from Debian's sources of
# gorilla/websocket and golang/protobuf 1.3.5: no Go module proxy is needed.
go_pkgs="golang-go golang-github-gorilla-websocket-dev golang-goprotobuf-dev"
gocode=/usr/share/gocode/src/github.com
if ! command -v go >/dev/null || [ ! -d "$gocode/gorilla/websocket" ] || [ ! -d "$gocode/golang/protobuf/proto" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log=$(mktemp)
    # shellcheck disable=SC2086 # the package list is meant to split
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $go_pkgs; } >"$log" 2>&1; then
      cat "$log" >&2
      echo "env.sh: installing Go failed (above); the Go interop test needs: apt-get install $go_pkgs" >&2
      exit 1
    fi
    rm -f "$log"
  else
    echo "env.sh: Go or its libraries are missing and this is not root on Debian; install them (apt-get install $go_pkgs) or the Go interop test fails" >&2
  fi
fi

exec "$@"

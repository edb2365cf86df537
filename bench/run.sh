#!/usr/bin/env bash
# Builds the packages (the bench imports @bimux/node from its dist), raises the
# open-file limit for the idle-connections test, and runs the bench.
# Usage: bash run.sh [SCRIPT.mjs] [--quick] [--no-build] [other options of the script]
# SCRIPT.mjs (default run.mjs): another bench script of this folder, e.g. seed.mjs or scaling.mjs.
set -euo pipefail
cd "$(dirname "$0")"
script=run.mjs
case "${1:-}" in *.mjs) script=$1; shift ;; esac
args=()
build=1
for a in "$@"; do
  if [ "$a" = "--no-build" ]; then build=0; export BENCH_NO_BUILD=1; else args+=("$a"); fi
done
if [ "$build" = 1 ]; then pnpm --dir .. run build >&2; fi
# 10,000 connections need 10,000 descriptors in the server and in the client process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
exec node "$script" ${args[@]+"${args[@]}"}

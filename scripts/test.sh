#!/usr/bin/env bash
# Runs every test of mesh-sdk on a fresh machine: installs what is missing,
# runs the sans-IO core's tests on the host, builds the package, then runs the
# JavaScript suites (Node's test runner) against real parts on 127.0.0.1:
# oidc-provider, workerd (wrangler dev) and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage prints how long it took, so a slow CI run shows where its time went.
stage() { echo "== $1 (at ${SECONDS}s)"; }

stage "setup"
scripts/setup.sh

stage "cargo test (host: sans-IO core, all features)"
cargo test --all-features --quiet 2>&1 | tail -n 40

stage "type-check the JavaScript layer (pkg-template, checkJs)"
node_modules/.bin/tsc -p pkg-template/jsconfig.json --noEmit

# A short fuzz pass runs beside the rest (its own build; its runs take one core);
# its log is printed, and its verdict counted, at the end.
stage "fuzz pass started in the background (FUZZ_SECONDS=${FUZZ_SECONDS:-10} per target)"
fuzz_log=$(mktemp)
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" setsid scripts/fuzz.sh >"$fuzz_log" 2>&1 &
fuzz_pid=$!
trap 'kill -- -"$fuzz_pid" 2>/dev/null || true' EXIT

stage "build the package"
scripts/build.sh

stage "JavaScript suites"
mapfile -t files < <(find tests -name '*.test.mjs' -not -path '*/node_modules/*' | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no JavaScript test files found" >&2; exit 1; fi
# One file at a time: each suite starts its own servers, and 2 cores are few.
# Nothing may hang the run: Node 20 applies --test-timeout to each file as a
# whole (the slowest takes a few minutes), and --test-force-exit ends a file
# when its tests end even if a handle leaked (the process-group tracker then
# stops its children).
node --test --test-concurrency=1 --test-reporter=spec \
  --test-timeout=1200000 --test-force-exit "${files[@]}"

stage "fuzz pass"
fuzz_rc=0
wait "$fuzz_pid" || fuzz_rc=$?
grep -av '^ *Compiling ' "$fuzz_log"
[ "$fuzz_rc" -eq 0 ] || { echo "the fuzz pass failed (see above)" >&2; exit 1; }
stage "done"

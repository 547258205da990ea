#!/usr/bin/env bash
# Prints the benchmarks side by side in one run (numbers, not assertions):
#   1. browser bundle size vs the anchors, and wasm instantiate time in Node;
#   2. the client's refresh storm (benches/client/refresh-storm.mjs), if present,
#      and mesh-sdk/next's auth() CPU and refresh storms (benches/next/run.mjs);
#   3. the gateway in workerd (benches/gateway/run.mjs: whole HTTP requests, as
#      the issue asks), then the same workers inside one isolate
#      (benches/gateway/isolate.mjs: the lower-noise view of auth CPU);
#   4. API-key lookups, KV against a KeyShard Durable Object (benches/gateway/keys.mjs);
#   5. the Durable Objects at edge scale: the model (benches/scale/model.mjs,
#      docs/scale.md) and one object's throughput (benches/scale/do-throughput.mjs).
# Usage: scripts/bench.sh [--build]   (--build: scripts/build.sh first; `make bench`
# builds before it). The size bench warns when pkg/ is a --dev build.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --build ]; then
  scripts/build.sh
fi
[ -f pkg/wasm/client/mesh_sdk_client_bg.wasm ] || { echo "pkg/ is missing: run scripts/build.sh" >&2; exit 1; }

echo "# mesh-sdk benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(node --version), $(nproc) cores)"
echo
failed=()
node benches/size/run.mjs || failed+=(benches/size/run.mjs)
# One failing benchmark does not hide the others' numbers.
for bench in benches/client/refresh-storm.mjs benches/next/run.mjs benches/gateway/run.mjs benches/gateway/isolate.mjs benches/gateway/keys.mjs \
  benches/scale/model.mjs benches/scale/do-throughput.mjs; do
  if [ -f "$bench" ]; then
    echo
    node "$bench" || failed+=("$bench")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi

#!/usr/bin/env bash
# Installs www/'s dependencies from the committed lockfile, then mesh-sdk from
# the packed tarball that ../scripts/build.sh writes (../dist/mesh-sdk.tgz).
#
# Why the tarball is installed with --no-save, outside the lockfile: the
# lockfile pins an integrity hash, and every rebuild of the package changes the
# tarball's bytes, so a locked entry would break `npm ci` after each build.
# Why a tarball and not a `file:` link to ../pkg: Turbopack does not resolve a
# linked folder outside the app (see ../shared/TOOLCHAIN.md); a tarball also
# installs the package exactly as users get it from the registry.
# Idempotent: `npm ci` runs only when the lockfile changed, and the tarball is
# reinstalled only when its bytes changed.
#
#   scripts/setup.sh            install only
#   scripts/setup.sh --build    install, then `next build` if anything the
#                               build reads is newer than the last build
# Concurrent runs (the demo, tests) wait for each other (flock).
set -euo pipefail
cd "$(dirname "$0")/.."
build=0; [ "${1:-}" = --build ] && build=1
export NEXT_TELEMETRY_DISABLED=1

exec 9>.setup.lock
flock 9

tarball=../dist/mesh-sdk.tgz
if [ ! -f "$tarball" ]; then
  echo "[www] $tarball is missing: run scripts/build.sh at the repository root first" >&2
  exit 1
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[www] npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  rm -f node_modules/.mesh-sdk.sha256
fi

stamp=node_modules/.mesh-sdk.sha256
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ ! -f node_modules/mesh-sdk/package.json ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
  echo "[www] installing mesh-sdk from $tarball"
  # npm keeps a same-version package in place: remove it so the new bytes land.
  rm -rf node_modules/mesh-sdk
  npm install --no-save --no-audit --no-fund --loglevel=error "$tarball"
  echo "$sum" > "$stamp"
  # Turbopack's cache could still hold the old package's modules.
  rm -rf .next/cache
fi
echo "[www] mesh-sdk $(node -p 'require("./node_modules/mesh-sdk/package.json").version') installed"

if [ $build = 1 ]; then
  inputs=(app components lib public next.config.mjs tsconfig.json package-lock.json node_modules/.mesh-sdk.sha256)
  existing=(); for f in "${inputs[@]}"; do [ -e "$f" ] && existing+=("$f"); done
  if [ ! -f .next/BUILD_ID ] || [ -n "$(find "${existing[@]}" -newer .next/BUILD_ID -print -quit)" ]; then
    echo "[www] next build"
    npx --no-install next build
  else
    echo "[www] the build is up to date"
  fi
fi

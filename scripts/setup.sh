#!/usr/bin/env bash
# Installs everything mesh-sdk needs on a fresh Debian 12 machine, idempotently:
# Debian's rustc-web toolchain (the only way to get a wasm32 std here, built with
# -Zbuild-std), lld, Chromium for browser tests, wasm-bindgen-cli at exactly the
# crate's wasm-bindgen version, and the npm dev tools from the committed lockfile.
# See ../shared/TOOLCHAIN.md for why each piece is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

need_apt=()
[ -x /usr/bin/rustc ] && /usr/bin/rustc --version 2>/dev/null | grep -q '^rustc 1\.\(9[6-9]\|[1-9][0-9][0-9]\)' || need_apt+=(rustc-web cargo-web)
[ -d /usr/lib/rustlib/src/rust/library/std ] || need_apt+=(rust-web-src)
command -v lld-22 >/dev/null 2>&1 || [ -x /usr/lib/llvm-22/bin/lld ] || need_apt+=(lld-22)
# mesh-sdk/next's Redis session store is tested against a real Redis.
[ -x /usr/bin/redis-server ] || need_apt+=(redis-server)
# Its TLS test makes a throwaway certificate with openssl.
[ -x /usr/bin/openssl ] || need_apt+=(openssl)
if [ "${MESH_SKIP_BROWSER:-}" != 1 ]; then
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# wasm-bindgen-cli must equal the wasm-bindgen crate version in Cargo.lock.
wb_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)
[ -n "$wb_version" ] || { echo "[setup] cannot read wasm-bindgen's version from Cargo.lock" >&2; exit 1; }
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $wb_version"; then
  log "cargo install wasm-bindgen-cli $wb_version (about 6 minutes, once)"
  # --locked fails here: the index lacks one locked dependency version.
  cargo install -q wasm-bindgen-cli --version "$wb_version"
fi

# npm dev tools (oidc-provider, wrangler, playwright-core, esbuild, binaryen...).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "ready"

#!/usr/bin/env bash
# Builds the npm package into pkg/ (and a tarball into dist/):
#   1. the crate for wasm32 five times, with Debian's rustc and -Zbuild-std:
#      - "client":  `ClientCore` (MeshClient's core), no signature crypto,
#                   optimised for size (profile "release"); the browser's
#                   only wasm, and MeshClient's on the server too;
#      - "gateway": the gateway and verifyIdentity without the client's
#                   binding, its per-request code optimised for speed
#                   (profile "server"), and without the Durable Objects.
#                   Node, Next.js server code and workerd load both modules
#                   (pkg-template/node.js, workerd.js); `mesh-sdk/gateway`
#                   loads it alone;
#      - "gateway-durable": the same plus the Durable Objects (feature
#                   `durable-objects`: the classes TokenBroker, KeyShard,
#                   RateLimitShard and the isolate's calls to them), loaded
#                   only by `mesh-sdk/gateway/durable` (gateway-durable.js): a
#                   Worker that binds no object uploads and compiles the
#                   smaller module. workerd only (no base64 copy for Node);
#      - "server":  the client's core plus mesh-sdk/next's ServerRules (cookies,
#                   routes, the Redis lock), loaded by mesh-sdk/next only;
#      - "redirect": the redirect login's rules (`RedirectCore`) alone, for
#                   size: the browser fetches it on the first redirect-login
#                   call, so the client's module does not carry it;
#   2. wasm-bindgen --target web for each;
#   3. wasm-opt -Oz with exactly the features rustc emits (not --all-features:
#      workerd and Next.js reject such modules);
#   4. pkg-template/ (entries per runtime, types, README, CLI) + the outputs.
# Usage: scripts/build.sh [--dev]   (--dev skips wasm-opt for a faster loop)
#        MESH_BUILD_VARIANTS="gateway" scripts/build.sh   (build one variant only;
#        the others are kept from the previous build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dev=0; [ "${1:-}" = --dev ] && dev=1
all_variants="client redirect gateway gateway-durable server"
variants=${MESH_BUILD_VARIANTS:-$all_variants}

# One build at a time: concurrent builds would overwrite each other's cargo
# output between cargo and wasm-bindgen, and pkg/ under a running test.
mkdir -p target
exec 9>target/.build.lock
flock 9

export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
cargo=/usr/bin/cargo
target=wasm32-unknown-unknown
wasm_opt="$root/node_modules/.bin/wasm-opt"
features_flags=(--enable-bulk-memory --enable-multivalue --enable-mutable-globals
  --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext)

build_variant() { # name cargo-features cargo-profile
  # Each variant's files are named after it (mesh_sdk_<variant>_bg.wasm, a
  # dash as an underscore), so copying the package's wasm files into one
  # folder cannot clash.
  local name=$1 features=$2 profile=$3 out="target/bindgen/$1" stem="mesh_sdk_${1//-/_}"
  echo "[build] $name: cargo build ($features, profile $profile)"
  "$cargo" build --quiet --profile "$profile" --target "$target" \
    -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size \
    --no-default-features --features "$features"
  rm -rf "$out"; mkdir -p "$out"
  wasm-bindgen --target web --out-dir "$out" --out-name "$stem" \
    "target/$target/$profile/mesh_sdk.wasm"
  # Keep the named module for benches/size/breakdown.mjs (what is big).
  cp "$out/${stem}_bg.wasm" "$out/${stem}_bg.named.wasm"
  if [ $dev = 0 ]; then
    "$wasm_opt" -Oz --converge --strip-producers --strip-target-features \
      "${features_flags[@]}" "$out/${stem}_bg.wasm" -o "$out/${stem}_bg.wasm"
  fi
}

for v in $variants; do
  case $v in
    # The client for size; the gateway has its per-request code built for
    # speed (Cargo.toml, profile "server").
    client) build_variant client client release ;;
    redirect) build_variant redirect redirect release ;;
    gateway) build_variant gateway gateway server ;;
    gateway-durable) build_variant gateway-durable gateway,durable-objects server ;;
    # mesh-sdk/next's server session: the client's core plus ServerRules.
    server) build_variant server client,server server ;;
    *) echo "unknown variant $v" >&2; exit 2 ;;
  esac
done

echo "[build] assembling pkg/"
next=target/pkg.next
rm -rf "$next"; mkdir -p "$next/wasm" dist
cp -R pkg-template/. "$next/"
for v in $all_variants; do
  stem="mesh_sdk_${v//-/_}"
  [ -f "target/bindgen/$v/${stem}_bg.wasm" ] || { echo "[build] variant $v was never built" >&2; exit 1; }
  mkdir -p "$next/wasm/$v"
  cp "target/bindgen/$v/$stem.js" "target/bindgen/$v/${stem}_bg.wasm" "$next/wasm/$v/"
  # JavaScript the Rust side imports (#[wasm_bindgen(module)]), next to its glue.
  if [ -d "target/bindgen/$v/snippets" ]; then cp -R "target/bindgen/$v/snippets" "$next/wasm/$v/"; fi
done
# Node and Next.js server code load the wasm from an inlined base64 module:
# bundlers rewrite file URLs to client assets (see TOOLCHAIN.md).
node -e '
  const fs = require("fs");
  for (const v of ["client", "redirect", "gateway", "server"]) {
    const wasm = process.argv[1] + "/wasm/" + v + "/mesh_sdk_" + v + "_bg.wasm";
    const b64 = fs.readFileSync(wasm).toString("base64");
    fs.writeFileSync(wasm + ".b64.js", "export default \"" + b64 + "\";\n");
  }
' "$next"
# Swap in the new pkg/ in one step, so a test reading it sees old or new.
rm -rf target/pkg.old; [ -d pkg ] && mv pkg target/pkg.old; mv "$next" pkg
version=$(node -p 'require("./pkg/package.json").version')
(cd pkg && npm pack --silent --pack-destination ../dist >/dev/null)
cp "dist/mesh-sdk-$version.tgz" dist/mesh-sdk.tgz
echo "[build] pkg/ ready; dist/mesh-sdk.tgz"
ls -l pkg/wasm/*/mesh_sdk_*_bg.wasm

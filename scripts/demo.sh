#!/usr/bin/env bash
# The demo (`make demo`): installs what is missing, builds the package and the
# web app, then starts the whole stack on 127.0.0.1 (see scripts/demo.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
www/scripts/setup.sh
npm --prefix www run build
exec node scripts/demo.mjs

#!/usr/bin/env bash
# The demo (`make demo`): installs what is missing, builds the package and the
# web app, then starts the whole stack on 127.0.0.1 (see scripts/demo.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
# Installs www/'s dependencies and the packed package; rebuilds the app only
# when its sources or the package changed.
www/scripts/setup.sh --build
exec node scripts/demo.mjs

#!/usr/bin/env bash
# The terminal demo: a local OpenID Provider on 127.0.0.1 (device flow,
# browser login at a loopback redirect, rotating refresh tokens, demo users), and the commands to sign in from a
# terminal with the package's own CLI. Ctrl-C stops the provider.
#   scripts/demo-cli.sh            (provider on 127.0.0.1:9400)
#   MESH_PROVIDER_PORT=9500 scripts/demo-cli.sh
set -euo pipefail
cd "$(dirname "$0")/.."

port=${MESH_PROVIDER_PORT:-9400}
audience=${MESH_AUDIENCE:-http://127.0.0.1:8787}

# Install and build what is missing (each step is idempotent).
scripts/setup.sh
[ -f pkg/node.js ] && [ -f pkg/bin/mesh-auth.js ] || scripts/build.sh

issuer="http://127.0.0.1:$port"
home_hint='a temporary HOME keeps your real ~/.mesh untouched'
cat <<TXT

== mesh-sdk terminal demo ==
Starting the OpenID Provider on $issuer (Ctrl-C to stop).

In another terminal, sign in (the browser opens where it can; headless, or
with --device, a link and a code to approve on any device):
  node pkg/bin/mesh-auth.js --issuer $issuer --client-id mesh-demo --audience $audience
Sign in as  demo / demo  (or demo2 / demo2), and allow.
The session is saved to ~/.mesh/token.json (mode 0600); set MESH_TOKEN_FILE to put it elsewhere
($home_hint: HOME=\$(mktemp -d) node pkg/bin/mesh-auth.js ...).

Then write a .env for scripts and agents:
  node pkg/bin/mesh-env.js -o .env          (add -f to overwrite)

TXT
exec node scripts/servers/provider.mjs --port "$port" --audience "$audience"

#!/usr/bin/env bash
# /usr/bin/chromium for the browser tests, with their --disable-features
# joined to Playwright's. Chromium keeps only the last --disable-features
# switch it is given, and Playwright passes its own list (HttpsUpgrades,
# PaintHolding, ...) before the tests' flags: on their own, the tests' list
# would silently switch Playwright's back on. Everything else is passed as is.
args=()
off=()
for a in "$@"; do
  case "$a" in
    --disable-features=*) off+=("${a#--disable-features=}") ;;
    *) args+=("$a") ;;
  esac
done
if ((${#off[@]})); then
  args+=("--disable-features=$(IFS=,; echo "${off[*]}")")
fi
exec /usr/bin/chromium "${args[@]}"

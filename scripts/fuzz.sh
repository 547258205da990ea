#!/usr/bin/env bash
# Fuzzes every parser of the sans-IO core (fuzz/, docs/fuzzing.md): installs
# cargo-fuzz if it lacks it, builds the targets once, then runs them one after
# another (the machine's cores are shared) for FUZZ_SECONDS each (default 60),
# or for FUZZ_RUNS inputs each when that is set. Names given as arguments
# limit the run to those targets. Exits non-zero if any target crashed,
# after printing the target and the crash input's path.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
CARGO_FUZZ_VERSION=0.13.2

if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION"; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
# libfuzzer-sys compiles libFuzzer's C++ sources.
if ! command -v c++ >/dev/null; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y g++
fi

# The host's stable rustc runs cargo-fuzz's unstable flags with
# RUSTC_BOOTSTRAP; no sanitizer, as the core has no unsafe code of its own.
export RUSTC_BOOTSTRAP=1
flags=(--sanitizer none)

if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi
echo "== building ${#targets[@]} fuzz targets"
cargo fuzz build "${flags[@]}"

if [ -n "${FUZZ_RUNS:-}" ]; then bound=(-runs="$FUZZ_RUNS"); else bound=(-max_total_time="$FUZZ_SECONDS"); fi
logs=fuzz/target/logs
mkdir -p "$logs"
failed=()
for t in "${targets[@]}"; do
  # New inputs go to a scratch corpus (first directory); the committed seeds
  # in fuzz/corpus/ are only read.
  work=fuzz/target/corpus/$t
  mkdir -p "$work"
  extra=(-timeout=10)
  [ -f "fuzz/dict/$t.dict" ] && extra+=(-dict="fuzz/dict/$t.dict")
  # The JWT size cap (16 KiB) is only reached by longer inputs than the default.
  [ "$t" = jwt ] && extra+=(-max_len=17408)
  started=$SECONDS
  if cargo fuzz run "${flags[@]}" "$t" "$work" "fuzz/corpus/$t" -- "${bound[@]}" "${extra[@]}" >"$logs/$t.log" 2>&1; then
    runs=$(grep -aEo '^Done [0-9]+ runs' "$logs/$t.log" | grep -Eo '[0-9]+' || echo "?")
    echo "$t: clean, $runs inputs in $((SECONDS - started)) s"
  else
    crash=$(grep -aEo 'Test unit written to [^ ]+' "$logs/$t.log" | tail -n 1 | cut -d' ' -f5-)
    echo "$t: FAILED after $((SECONDS - started)) s; crash input: ${crash:-none written}; log: $logs/$t.log" >&2
    grep -a -m 1 -A 3 'panicked at' "$logs/$t.log" >&2 || tail -n 20 "$logs/$t.log" >&2
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "== fuzzing clean (${#targets[@]} targets)"

#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for SECONDS each (default 60) with
# cargo-fuzz (libFuzzer, AddressSanitizer) on the stable toolchain
# (RUSTC_BOOTSTRAP=1 lets it use the sanitizer flags), and prints one line
# per target: executions, corpus size, crashes. Exits non-zero if any target
# crashed; the crashing input is left in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Corpora: fuzz/corpus/<target> (kept between runs, not committed), seeded
# from the real SDP captures in tests/fixtures/sdp (SDP and candidate
# targets) and from the small hand-made messages in fuzz/seeds/<target>.
# Installs cargo-fuzz with `cargo install` when it is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
case "$secs" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
export RUSTC_BOOTSTRAP=1
export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cd "$root/fuzz"
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi
# Release build with debug assertions, the same flags for build and run.
flags=(-O --debug-assertions)
cargo fuzz build "${flags[@]}"

seed() {
  local t=$1 dir=corpus/$1 f n=0
  mkdir -p "$dir"
  case "$t" in
    sdp_decode | sdp_answer)
      cp "$root"/tests/fixtures/sdp/*.sdp "$dir"/ ;;
    candidate_decode)
      for f in "$root"/tests/fixtures/sdp/*.sdp; do
        { grep -a 'candidate:' "$f" || true; } | tr -d '\r' | while IFS= read -r line; do
          n=$((n + 1))
          printf '%s' "$line" >"$dir/$(basename "$f" .sdp)-$n"
        done
      done ;;
  esac
  if [ -d "seeds/$t" ]; then cp seeds/"$t"/* "$dir"/; fi
}

status=0
summary=()
for t in "${targets[@]}"; do
  seed "$t"
  log=$(mktemp)
  rc=0
  cargo fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  corpus=$(find "corpus/$t" -type f | wc -l)
  crashes=0
  if [ "$rc" != 0 ]; then
    crashes=1
    status=1
    echo "fuzz: $t failed (exit $rc):"
    grep -a -E 'ERROR|panicked|SUMMARY|Test unit written|artifact' "$log" | head -20
  fi
  summary+=("$(printf '%-18s %12s execs in %ss, corpus %5s, crashes %s' "$t" "${execs:-?}" "$secs" "$corpus" "$crashes")")
  rm -f "$log"
done
printf 'fuzz: %s\n' "${summary[@]}"
exit $status

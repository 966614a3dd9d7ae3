#!/usr/bin/env bash
# Data-channel benchmarks over loopback (bench/xp2p_bench.c), with
# libdatachannel (npm node-datachannel, bench/ndc_bench.mjs) side by side.
#   scripts/bench.sh [--runs N] [--no-ndc] [--quick] [--build-only]
# Builds and installs the package into build/bench/prefix (cargo and cmake
# only redo what changed), builds xp2p_bench against it, runs every mode N
# times (default 5) and prints the medians. --quick: 50 MB / 50000 messages /
# 5 rounds per run. --build-only: build, print the binary's path, exit.
# Logs of every run: build/bench/runs/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${XP2P_BENCH_DIR:-$root/build/bench}
prefix=$out/prefix
runs=5 ndc=1 quick=0 build_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --no-ndc) ndc=0; shift ;;
    --quick) quick=1; shift ;;
    --build-only) build_only=1; shift ;;
    *) echo "usage: $0 [--runs N] [--no-ndc] [--quick] [--build-only]" >&2; exit 2 ;;
  esac
done

mkdir -p "$out"
{
  cmake -S "$root" -B "$out/pkg" -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release
  cmake --build "$out/pkg"
  cmake --install "$out/pkg"
  cmake -S "$root/bench" -B "$out/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
  cmake --build "$out/build"
} >"$out/build.log" 2>&1 || { tail -40 "$out/build.log" >&2; echo "bench: build failed" >&2; exit 1; }
bench=$out/build/xp2p_bench
if [ "$build_only" = 1 ]; then echo "$bench"; exit 0; fi

export XP2P_INTERFACES=lo
logs=$out/runs
rm -rf "$logs"; mkdir -p "$logs"
if [ "$quick" = 1 ]; then
  tp_bytes=50000000 rate_count=50000 rounds=5
else
  tp_bytes=200000000 rate_count=200000 rounds=10
fi

pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

# run_pair LOG SERVER-COMMAND... -- CLIENT-COMMAND...: both under a timeout;
# the client's RESULT line goes to stdout.
run_pair() {
  local log=$1; shift
  local srv=() cli=()
  while [ "$1" != -- ]; do srv+=("$1"); shift; done; shift
  cli=("$@")
  timeout 300 "${srv[@]}" >"$log.server" 2>&1 &
  local spid=$!
  pids+=("$spid")
  local rc=0
  timeout 300 "${cli[@]}" >"$log.client" 2>&1 || rc=$?
  wait "$spid" || true
  if [ $rc != 0 ] || ! grep -q '^RESULT' "$log.client"; then
    echo "bench: run failed (exit $rc), see $log.client and $log.server:" >&2
    tail -5 "$log.client" "$log.server" >&2
    return 1
  fi
  grep '^RESULT' "$log.client" | tail -1
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "-"; exit} if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }

ndc_js=$root/bench/ndc_bench.mjs
ndc_mod=
if [ "$ndc" = 1 ]; then
  if command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -f "$out/ndc/node_modules/node-datachannel/package.json" ]; then
      mkdir -p "$out/ndc"
      (cd "$out/ndc" && [ -f package.json ] || echo '{"private":true}' >package.json
       cd "$out/ndc" && npm install --no-audit --no-fund node-datachannel@0.33.4) \
        >"$out/ndc-install.log" 2>&1 || { echo "bench: npm install node-datachannel failed, see $out/ndc-install.log" >&2; ndc=0; }
    fi
    ndc_mod=$out/ndc/node_modules/node-datachannel/dist/esm/lib/index.mjs
    [ -f "$ndc_mod" ] || ndc=0
  else
    echo "bench: no node/npm, libdatachannel comparison skipped" >&2; ndc=0
  fi
fi
export NDC_MODULE=$ndc_mod

declare -A vals
add() { vals[$1]="${vals[$1]:-} $2"; }

for i in $(seq 1 "$runs"); do
  echo "run $i/$runs" >&2
  sock=$out/bench-$$.sock
  r=$(run_pair "$logs/tp$i" "$bench" server --signal "$sock" -- \
      "$bench" client --signal "$sock" --mode throughput --bytes "$tp_bytes")
  [ "$(echo "$r" | field match)" = 1 ] || { echo "bench: xp2p throughput: SHA-256 mismatch" >&2; exit 1; }
  add xp2p_tp "$(echo "$r" | field mbps)"
  r=$(run_pair "$logs/rate$i" "$bench" server --signal "$sock" -- \
      "$bench" client --signal "$sock" --mode rate --count "$rate_count")
  add xp2p_rate "$(echo "$r" | field msgps)"
  r=$(run_pair "$logs/open$i" "$bench" server --signal "$sock" -- \
      "$bench" client --signal "$sock" --mode open --repeat "$rounds")
  add xp2p_open "$(echo "$r" | field median_ms)"
  add xp2p_openmin "$(echo "$r" | field min_ms)"
  timeout 300 "$bench" memory >"$logs/mem$i" 2>&1 || { echo "bench: memory run failed, see $logs/mem$i" >&2; exit 1; }
  add xp2p_mem "$(grep '^RESULT' "$logs/mem$i" | field kib_per_pc)"
  if [ "$ndc" = 1 ]; then
    r=$(run_pair "$logs/ndc-tp$i" node "$ndc_js" server --signal "$sock" -- \
        node "$ndc_js" client --signal "$sock" --mode throughput --bytes "$tp_bytes")
    [ "$(echo "$r" | field match)" = 1 ] || { echo "bench: ndc throughput: SHA-256 mismatch" >&2; exit 1; }
    add ndc_tp "$(echo "$r" | field mbps)"
    r=$(run_pair "$logs/ndc-rate$i" node "$ndc_js" server --signal "$sock" -- \
        node "$ndc_js" client --signal "$sock" --mode rate --count "$rate_count")
    add ndc_rate "$(echo "$r" | field msgps)"
    r=$(run_pair "$logs/ndc-open$i" node "$ndc_js" server --signal "$sock" -- \
        node "$ndc_js" client --signal "$sock" --mode open --repeat "$rounds")
    add ndc_open "$(echo "$r" | field median_ms)"
    add ndc_openmin "$(echo "$r" | field min_ms)"
    # node-datachannel may crash while tearing 200 connections down at
    # exit, after its RESULT line: the figure counts, the exit status not.
    timeout 300 node "$ndc_js" memory >"$logs/ndc-mem$i" 2>&1 || true
    grep -q '^RESULT' "$logs/ndc-mem$i" || { echo "bench: ndc memory run failed, see $logs/ndc-mem$i" >&2; exit 1; }
    add ndc_mem "$(grep '^RESULT' "$logs/ndc-mem$i" | field kib_per_pc)"
  fi
done

med() { printf '%s\n' ${vals[$1]:-} | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }
echo
echo "medians of $runs runs (two processes over loopback; throughput $tp_bytes bytes in 64 KiB messages, rate $rate_count messages of 100 bytes, open: median of $rounds fresh connections per run)"
printf '%-34s %12s %16s %8s\n' "metric" "libxp2p" "libdatachannel" "ratio"
row() {  # name key unit higher-is-better
  local a b
  a=$(med "xp2p_$2"); b=$( [ "$ndc" = 1 ] && med "ndc_$2" || echo -)
  printf '%-34s %12s %16s %8s\n' "$1" "$a" "$b" "$(ratio "$a" "$b")"
}
row "throughput (MB/s)" tp
row "rate (msg/s, 100 B)" rate
row "open (ms, create to channel open)" open
row "open, best round (ms)" openmin
row "memory (KiB per connected PC)" mem
echo "(ratio = libxp2p / libdatachannel; for open and memory, lower is better)"
echo "per-run values: $(for k in "${!vals[@]}"; do printf '%s:%s; ' "$k" "${vals[$k]# }"; done)"

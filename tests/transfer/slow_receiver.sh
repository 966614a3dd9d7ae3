#!/usr/bin/env bash
# A slow receiver in two processes on loopback: xp2p_bench client sends
# BYTES (default 1 GiB) in 64 KiB messages over one reliable ordered
# channel; xp2p_bench server sleeps DELAY_US (default 2000) in each
# on_message and, a quarter into the stream, stalls its loop for STALL_MS
# (default 15000) inside one callback. Checks that
#   - every byte arrives (the SHA-256 of both ends match, BYTES received),
#   - the receiver's peak resident memory (VmHWM) stays under RSS_MB (64),
#   - the sender's buffered amount grows during the stall (samples printed),
# i.e. received messages are bounded inside the receiving stack and the
# back-pressure reaches the sending application (README, "Receive flow control").
# No timing bound. usage:
#   tests/transfer/slow_receiver.sh [--bytes N] [--delay-us U] [--stall-ms M] [--rss-mb R]
# Builds xp2p_bench with scripts/bench.sh --build-only unless XP2P_BENCH
# names a binary. Prints "1 passed, 0 failed" or "0 passed, 1 failed".
set -u
bytes=1073741824 delay_us=2000 stall_ms=15000 rss_mb=64
while [ $# -gt 0 ]; do
  case $1 in
    --bytes) bytes=$2; shift 2 ;;
    --delay-us) delay_us=$2; shift 2 ;;
    --stall-ms) stall_ms=$2; shift 2 ;;
    --rss-mb) rss_mb=$2; shift 2 ;;
    *) echo "usage: $0 [--bytes N] [--delay-us U] [--stall-ms M] [--rss-mb R]" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/xp2p-slow-receiver.XXXXXX)
spid= cpid=
cleanup() {
  [ -n "$cpid" ] && kill "$cpid" 2>/dev/null
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "slow_receiver: FAIL: $*"
  for f in server client; do
    [ -f "$work/$f.log" ] && { echo "--- $f (last lines)"; grep -v '^buffered ' "$work/$f.log" | tail -15; }
  done
  echo "0 passed, 1 failed"
  exit 1
}

bench=${XP2P_BENCH:-}
if [ -z "$bench" ]; then
  bench=$("$root/scripts/bench.sh" --build-only 2>"$work/build.log") || {
    tail -20 "$work/build.log"; fail "could not build xp2p_bench"; }
fi
[ -x "$bench" ] || fail "no xp2p_bench at $bench"

export XP2P_INTERFACES=lo
sock=$work/signal.sock
start=$(date +%s.%N)
timeout 1200 "$bench" server --signal "$sock" --recv-delay-us "$delay_us" --stall-ms "$stall_ms" \
  >"$work/server.log" 2>&1 &
spid=$!
timeout 1200 "$bench" client --signal "$sock" --mode throughput --bytes "$bytes" --report-ms 250 \
  >"$work/client.log" 2>&1 &
cpid=$!
wait "$cpid"; crc=$?; cpid=
wait "$spid"; src=$?; spid=
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

sender=$(sed -n 's/^sender sha256 \([0-9a-f]\{64\}\)$/\1/p' "$work/client.log")
receiver=$(sed -n 's/^receiver sha256 \([0-9a-f]\{64\}\)$/\1/p' "$work/server.log")
got=$(sed -n 's/^RESULT .* bytes=\([0-9]*\) .*/\1/p' "$work/client.log")
mbps=$(sed -n 's/^RESULT .* mbps=\([0-9.]*\) .*/\1/p' "$work/client.log")
hwm=$(sed -n 's/^receiver vmhwm_kib=\([0-9]*\)$/\1/p' "$work/server.log")
read -r s0 s1 sat < <(sed -n 's/^stall \([0-9]*\) \([0-9]*\) at \([0-9]*\) bytes$/\1 \2 \3/p' "$work/server.log")
[ "$crc" = 124 ] || [ "$src" = 124 ] && fail "timed out after 1200 s"
[ "$crc" = 0 ] || fail "client exited with $crc"
[ "$src" = 0 ] || fail "server exited with $src"
[ -n "$sender" ] || fail "the sender reported no SHA-256"
[ "$sender" = "$receiver" ] || fail "SHA-256 differs: sender $sender, receiver ${receiver:-none}"
[ "$got" = "$bytes" ] || fail "the receiver got ${got:-?} bytes, not $bytes"
[ -n "$hwm" ] || fail "the receiver reported no VmHWM"
[ -n "${s0:-}" ] || fail "the receiver did not stall"

# The sender's buffered amount during the stall (nanosecond timestamps of
# the shared CLOCK_MONOTONIC).
awk -v a="$s0" -v b="$s1" '$1 == "buffered" && $2 >= a && $2 <= b { print ($2 - a) / 1e9, $3, $4 }' \
  "$work/client.log" >"$work/stall.txt"
n=$(wc -l <"$work/stall.txt")
[ "$n" -ge 2 ] || fail "fewer than 2 buffered-amount samples during the stall"
first=$(head -1 "$work/stall.txt" | cut -d' ' -f2)
peak=$(cut -d' ' -f2 "$work/stall.txt" | sort -n | tail -1)
echo "slow_receiver: the sender during the ${stall_ms} ms stall (s into it, buffered amount, bytes accepted):"
awk 'NR == 1 || NR % 8 == 0 { printf "  %.2f %d %d\n", $1, $2, $3 } END { printf "  %.2f %d %d (last)\n", $1, $2, $3 }' "$work/stall.txt"
before=$(awk -v a="$s0" '$1 == "buffered" && $2 < a { v = $3 } END { print v + 0 }' "$work/client.log")
echo "slow_receiver: buffered just before the stall $before, at its first sample $first, peak $peak"
[ "$peak" -gt "$before" ] || [ "$peak" -ge 8388608 ] ||
  fail "the sender's buffered amount did not grow during the stall (peak $peak)"
[ "$hwm" -lt $((rss_mb * 1024)) ] || fail "receiver VmHWM $hwm KiB, not under $rss_mb MB"
echo "slow_receiver: $bytes bytes, sha256 $receiver on both ends; receiver VmHWM $hwm KiB" \
  "(bound $((rss_mb * 1024)) KiB); stall at $sat bytes; ${mbps} MB/s overall; ${secs} s"
grep '^receiver:' "$work/server.log"
echo "1 passed, 0 failed"

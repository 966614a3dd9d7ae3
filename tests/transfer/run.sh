#!/usr/bin/env bash
# Two processes, 100 MiB over one reliable ordered data channel on loopback:
# xp2p_bench server receives and hashes the stream, xp2p_bench client sends
# it; the SHA-256 the receiver reports must equal the sender's.
# Builds xp2p_bench with scripts/bench.sh --build-only unless XP2P_BENCH
# names a binary. Prints "1 passed, 0 failed" or "0 passed, 1 failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/xp2p-transfer.XXXXXX)
spid= cpid=
cleanup() {
  [ -n "$cpid" ] && kill "$cpid" 2>/dev/null
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "transfer: FAIL: $*"
  for f in server client; do
    [ -f "$work/$f.log" ] && { echo "--- $f (last lines)"; tail -15 "$work/$f.log"; }
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
timeout 300 "$bench" server --signal "$sock" >"$work/server.log" 2>&1 &
spid=$!
timeout 300 "$bench" client --signal "$sock" --mode throughput --bytes 104857600 \
  >"$work/client.log" 2>&1 &
cpid=$!
wait "$cpid"; crc=$?; cpid=
wait "$spid"; src=$?; spid=
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

sender=$(sed -n 's/^sender sha256 \([0-9a-f]\{64\}\)$/\1/p' "$work/client.log")
receiver=$(sed -n 's/^receiver sha256 \([0-9a-f]\{64\}\)$/\1/p' "$work/server.log")
bytes=$(sed -n 's/^RESULT .* bytes=\([0-9]*\) .*/\1/p' "$work/client.log")
[ "$crc" = 124 ] || [ "$src" = 124 ] && fail "timed out after 300 s"
[ "$crc" = 0 ] || fail "client exited with $crc"
[ "$src" = 0 ] || fail "server exited with $src"
[ -n "$sender" ] || fail "the sender reported no SHA-256"
[ -n "$receiver" ] || fail "the receiver reported no SHA-256"
[ "$sender" = "$receiver" ] || fail "SHA-256 differs: sender $sender, receiver $receiver"
[ "$bytes" = 104857600 ] || fail "the receiver got ${bytes:-?} bytes, not 104857600"
echo "transfer: 104857600 bytes, sha256 $receiver on both ends (${secs} s)"
grep '^receiver:' "$work/server.log"
echo "1 passed, 0 failed"

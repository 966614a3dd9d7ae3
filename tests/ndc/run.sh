#!/usr/bin/env bash
# Data channel interoperability between examples-c/chat (libxp2p) and
# libdatachannel (npm node-datachannel, tests/ndc/ndc_peer.mjs), over
# loopback, with chat's Unix-socket signaling. Both directions trickle:
# libdatachannel's description holds no candidate (each follows on its own,
# then "a=end-of-candidates"), and chat uses tests/interop/stun_nat.py (a
# loopback STUN server that maps to another port) as STUN server, so it
# trickles a server-reflexive candidate after its description, which
# libdatachannel must apply with addRemoteCandidate.
#
# Cases:
#   ndc-offers        libdatachannel offers and opens "chat"; chat answers
#                     and echoes, then sees libdatachannel close the channel
#   chat-offers       chat offers and opens "chat"; libdatachannel answers
#                     and echoes, then sees chat close the channel
#   ndc-offers-back   as ndc-offers, and the chat answerer opens "chat-back"
#                     too (--open-channel; libdatachannel echoes on it and
#                     sees chat close it)
#   chat-offers-back  as chat-offers, and the libdatachannel answerer opens
#                     "ndc-back" too (chat echoes on it, sees it closed)
#   bulk              as chat-offers-back, and each side also streams 50 MB
#                     on a "bulk" channel (chat --bulk); the receiver checks
#                     the FNV-1a of the stream against the sender's
# The opener of a channel sends 3 text lines, an empty text, an empty binary
# message and binary messages of 1, 1200, 65536 bytes and of the negotiated
# a=max-message-size (262144: what both advertise); each reply is checked
# (length and FNV-1a for binary), then the opener closes the channel and
# the other side must report the close. Both programs must exit 0 with the
# expected summary lines.
#
# Empty messages: libdatachannel sends an empty string or binary message as
# one zero byte with PPID 56 / 57 (RFC 8831 §6.6) and delivers PPID 56 / 57
# as an empty message, whatever the byte; libxp2p does the same, and the
# cases check both directions.
#
# Usage: tests/ndc/run.sh [CASE...]   (default: all five)
# Ends with "N passed, M failed"; exit status non-zero when a case failed.
#
# Uses the installed package in build/prefix when there is one, otherwise
# builds and installs it (the cmake steps of scripts/c-tests.sh); builds chat
# against it in build/ndc-interop; installs node-datachannel with
# tests/ndc/deps.sh (npm registry). Every process is bounded by timeout.
#
# Environment: XP2P_BUILD_DIR (default build), XP2P_PREFIX (default
# $XP2P_BUILD_DIR/prefix), XP2P_REBUILD=1 to rebuild and reinstall the
# package first, XP2P_KEEP_LOGS=1 to keep the logs (build/ndc-interop/*.log).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${XP2P_BUILD_DIR:-$root/build}
prefix=${XP2P_PREFIX:-$build/prefix}
out=$build/ndc-interop
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(ndc-offers chat-offers ndc-offers-back chat-offers-back bulk)
export XP2P_INTERFACES=lo
case_timeout=30 # seconds each program gives itself (bulk: twice that)

summary() {
  echo "$1 passed, $2 failed"
  [ "$2" = 0 ]
  exit
}

cd "$root"
if ! module=$(timeout 600 "$here/deps.sh"); then
  echo "run.sh: node-datachannel could not be installed (tests/ndc/deps.sh)" >&2
  summary 0 ${#cases[@]}
fi
installed=$(find "$prefix" -name xp2pConfig.cmake 2>/dev/null)
if [ "${XP2P_REBUILD:-0}" = 1 ] || [ -z "$installed" ]; then
  echo "run.sh: building and installing the package into $prefix"
  if ! { cmake -S . -B "$build/pkg" -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    timeout 1200 cmake --build "$build/pkg" && cmake --install "$build/pkg" >/dev/null; }; then
    echo "run.sh: the package did not build" >&2
    summary 0 ${#cases[@]}
  fi
fi
mkdir -p "$out"
if ! { cmake -S examples-c -B "$out/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null &&
  timeout 300 cmake --build "$out/cmake" --target chat >/dev/null; }; then
  echo "run.sh: chat did not build" >&2
  summary 0 ${#cases[@]}
fi
chat=$out/cmake/chat
peer=(node "$here/ndc_peer.mjs" --module "$module")

# The largest message: what libdatachannel accepts, at most what we advertise.
ours=262144
theirs=$(timeout 30 "${peer[@]}" --print-max-message-size) || theirs=
if ! [[ "$theirs" =~ ^[0-9]+$ ]]; then
  echo "run.sh: could not read libdatachannel's max-message-size" >&2
  summary 0 ${#cases[@]}
fi
big=$ours
[ "$theirs" != 0 ] && [ "$theirs" -lt "$big" ] && big=$theirs
ndc_version=$(node -p 'require(process.argv[1]).version' \
  "${module%/dist/esm/lib/index.mjs}/package.json" 2>/dev/null)
echo "node-datachannel $ndc_version (libdatachannel) advertises" \
  "a=max-message-size:$theirs; libxp2p $ours; largest message sent: $big bytes"
msgs=(--count 3 --empty --size 1 --size 1200 --size 65536 --size "$big")
n_msgs=$((3 + 2 + 4))
bulk_bytes=$((50 * 1000 * 1000))

tmp=$(mktemp -d /tmp/xp2p-ndc-XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The STUN server that makes chat trickle (bounded by its --lifetime too).
timeout 300 python3 "$root/tests/interop/stun_nat.py" --lifetime 290 >"$tmp/stun.out" 2>&1 &
pids+=($!)
stun_port=
for _ in $(seq 50); do
  stun_port=$(awk '/^listening/ {print $2}' "$tmp/stun.out")
  [ -n "$stun_port" ] && break
  sleep 0.1
done
if [ -z "$stun_port" ]; then
  echo "run.sh: stun_nat.py did not start" >&2
  summary 0 ${#cases[@]}
fi
chat_opts=(--stun "127.0.0.1:$stun_port")

# expect LOG LINE...: every line must be in LOG.
expect() {
  local log=$1 line ok=0
  shift
  for line in "$@"; do
    if ! grep -qF -- "$line" "$log"; then
      echo "    missing in $(basename "$log"): $line"
      ok=1
    fi
  done
  return $ok
}

# expect_re LOG REGEX...: every extended regex must match a line of LOG.
expect_re() {
  local log=$1 re ok=0
  shift
  for re in "$@"; do
    if ! grep -qE -- "$re" "$log"; then
      echo "    no match in $(basename "$log"): $re"
      ok=1
    fi
  done
  return $ok
}

# run_case NAME: starts the answerer in the background, the offerer in the
# foreground (each bounded by timeout; both also give up on their own).
run_case() {
  local name=$1 sock=$tmp/$1.sock off ans offlog=$out/$1.offer.log anslog=$out/$1.answer.log
  local rc_off rc_ans fail=0 chatlog ndclog t=$case_timeout n=$n_msgs bulk=()
  [ "$name" = bulk ] && t=$((2 * case_timeout)) n=$((n_msgs + 1)) bulk=(--bulk "$bulk_bytes")
  case $name in
    ndc-offers)
      off=("${peer[@]}" --role offer "${msgs[@]}")
      ans=("$chat" answer "${chat_opts[@]}") ;;
    chat-offers)
      off=("$chat" offer "${chat_opts[@]}" "${msgs[@]}")
      ans=("${peer[@]}" --role answer) ;;
    ndc-offers-back)
      off=("${peer[@]}" --role offer "${msgs[@]}")
      ans=("$chat" answer "${chat_opts[@]}" --open-channel "${msgs[@]}") ;;
    chat-offers-back | bulk)
      off=("$chat" offer "${chat_opts[@]}" "${msgs[@]}" "${bulk[@]}")
      ans=("${peer[@]}" --role answer --open-channel "${msgs[@]}" "${bulk[@]}") ;;
    *)
      echo "  unknown case $name"
      return 1 ;;
  esac
  timeout $((t + 10)) "${ans[@]}" --timeout "$t" --signal "$sock" >"$anslog" 2>&1 &
  local apid=$!
  pids+=("$apid")
  timeout $((t + 10)) "${off[@]}" --timeout "$t" --signal "$sock" >"$offlog" 2>&1
  rc_off=$?
  wait "$apid"
  rc_ans=$?
  [ "$rc_off" = 0 ] || { echo "    offerer exited $rc_off"; fail=1; }
  [ "$rc_ans" = 0 ] || { echo "    answerer exited $rc_ans"; fail=1; }
  case $name in
    ndc-*) ndclog=$offlog chatlog=$anslog ;;
    *) ndclog=$anslog chatlog=$offlog ;;
  esac
  # Trickle both ways: chat sent its server-reflexive candidate after its
  # description and libdatachannel applied it; libdatachannel's candidates
  # all came after its description and chat applied them.
  expect "$chatlog" "trickled a=candidate:" "remote a=candidate:" "remote gathering done" || fail=1
  expect "$ndclog" "trickled a=candidate:" "local gathering done" || fail=1
  expect_re "$ndclog" "remote a=candidate:.* typ srflx" || fail=1
  # The offerer's "chat" channel: all echoed on the offerer, all replied on
  # the answerer, closed by the offerer and seen closed on the answerer.
  expect "$offlog" "chat: all $n_msgs messages echoed, closing the channel" || fail=1
  expect "$anslog" "chat: closed by the peer" "chat: received $n, replied $n" || fail=1
  expect "$offlog" "chat: sent $n, echoed $n" || fail=1
  case $name in
    *-back | bulk)
      expect "$anslog" "chat: sent $n, echoed $n" "messages echoed, closing the channel" || fail=1
      expect "$offlog" "chat: received $n, replied $n" "channel opened by the peer" \
        "-back: closed by the peer" || fail=1 ;;
  esac
  # Empty and largest messages arrived as such on the receiving side of
  # each channel.
  expect "$anslog" "chat< (empty text)" "chat< 0 bytes of binary" "chat< $big bytes of binary" || fail=1
  case $name in
    *-back | bulk)
      expect "$offlog" "-back< (empty text)" "-back< 0 bytes of binary" \
        "-back< $big bytes of binary" || fail=1 ;;
  esac
  if [ "$name" = bulk ]; then
    # Each receiver confirmed the checksum of the other's 50 MB.
    expect_re "$offlog" "bulk: $bulk_bytes bytes received, fnv1a 0x[0-9a-f]{8} matches" || fail=1
    expect_re "$anslog" "bulk: $bulk_bytes bytes received, fnv1a 0x[0-9a-f]{8} matches" || fail=1
    expect "$offlog" "bulk: closed" "bulk: closed by the peer" || fail=1
    expect "$anslog" "bulk: closed" "bulk: closed by the peer" || fail=1
  fi
  if [ "$fail" != 0 ]; then
    echo "    --- offerer ($offlog), last lines:"
    tail -25 "$offlog" | sed 's/^/    /'
    echo "    --- answerer ($anslog), last lines:"
    tail -25 "$anslog" | sed 's/^/    /'
  fi
  return $fail
}

passed=0
failed=0
for c in "${cases[@]}"; do
  echo "== $c"
  start=$(date +%s%N)
  if run_case "$c"; then
    passed=$((passed + 1))
    ms=$((($(date +%s%N) - start) / 1000000))
    printf '   ok (%d.%d s)\n' $((ms / 1000)) $((ms % 1000 / 100))
  else
    failed=$((failed + 1))
    echo "   FAILED"
  fi
done
[ "${XP2P_KEEP_LOGS:-0}" = 1 ] || [ "$failed" != 0 ] || rm -f "$out"/*.log
summary "$passed" "$failed"

#!/usr/bin/env bash
# Data channel interoperability between examples-c/chat (libxp2p) and aiortc
# (tests/interop/aiortc_peer.py), over loopback, with chat's Unix-socket
# signaling. Trickle: chat uses tests/interop/stun_nat.py (a loopback STUN
# server that maps to another port) as STUN server, so it trickles a
# server-reflexive candidate after its description, which aiortc must apply
# with addIceCandidate; aiortc does not trickle (its candidates are in its
# SDP, followed by an "a=end-of-candidates" frame), which chat must accept.
#
# Cases:
#   chat-offers         chat offers and opens "chat", aiortc answers and echoes
#   aiortc-offers       aiortc offers and opens "chat", chat answers and echoes
#   chat-offers-back    as chat-offers, and the aiortc answerer opens a channel
#                       too (chat gets a remotely opened channel and echoes)
#   aiortc-offers-back  as aiortc-offers, and the chat answerer opens a channel
#                       too (--open-channel; aiortc echoes on it)
# In every case chat must have trickled a candidate and aiortc applied it;
# the opener of a channel sends 3 text lines, an empty text, an
# empty binary message and binary messages of 1, 1200, 65536 bytes and of the
# size aiortc advertises as a=max-message-size (262144 with aiortc 1.16.0,
# capped at 262144, the size libxp2p advertises); each reply is checked
# (length and FNV-1a checksum for binary), then the opener closes the channel
# and the other side must report the close. Both programs must exit 0 with
# the expected summary lines.
#
# Usage: tests/interop/run.sh [CASE...]   (default: all four)
# Ends with "N passed, M failed"; exit status non-zero when a case failed.
#
# Uses the installed package in build/prefix when there is one, otherwise
# builds and installs it (the cmake steps of scripts/c-tests.sh); builds chat
# against it in build/interop; installs aiortc with tests/interop/deps.sh.
#
# Environment: XP2P_BUILD_DIR (default build), XP2P_PREFIX (default
# $XP2P_BUILD_DIR/prefix), XP2P_REBUILD=1 to rebuild and reinstall the
# package first, XP2P_KEEP_LOGS=1 to keep the logs (build/interop/*.log),
# AIORTC_SRTP_SHIM=1 to let aiortc accept a DTLS handshake without an SRTP
# profile (see aiortc_peer.py; stock aiortc needs use_srtp, RFC 5764).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${XP2P_BUILD_DIR:-$root/build}
prefix=${XP2P_PREFIX:-$build/prefix}
out=$build/interop
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(chat-offers aiortc-offers chat-offers-back aiortc-offers-back)
export XP2P_INTERFACES=lo

summary() {
  echo "$1 passed, $2 failed"
  [ "$2" = 0 ]
  exit
}

cd "$root"
if ! py=$(timeout 600 "$here/deps.sh"); then
  echo "run.sh: aiortc could not be installed (tests/interop/deps.sh)" >&2
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
peer=("$py" "$here/aiortc_peer.py")
[ "${AIORTC_SRTP_SHIM:-0}" = 1 ] && peer+=(--srtp-shim)

# The largest message: what aiortc accepts, at most what we advertise.
ours=262144
theirs=$(timeout 30 "$py" "$here/aiortc_peer.py" --print-max-message-size) || theirs=
if ! [[ "$theirs" =~ ^[0-9]+$ ]]; then
  echo "run.sh: could not read aiortc's max-message-size" >&2
  summary 0 ${#cases[@]}
fi
big=$ours
[ "$theirs" != 0 ] && [ "$theirs" -lt "$big" ] && big=$theirs
echo "aiortc $("$py" -c 'import aiortc; print(aiortc.__version__)') advertises" \
  "a=max-message-size:$theirs; libxp2p $ours; largest message sent: $big bytes"
msgs=(--count 3 --empty --size 1 --size 1200 --size 65536 --size "$big")
n_msgs=$((3 + 2 + 4))

tmp=$(mktemp -d /tmp/xp2p-interop-XXXXXX)
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
timeout 600 "$py" "$here/stun_nat.py" --lifetime 590 >"$tmp/stun.out" 2>&1 &
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

# run_case NAME: starts the answerer in the background, the offerer in the
# foreground (each bounded by timeout 40; both also give up after 30 s).
run_case() {
  local name=$1 sock=$tmp/$1.sock off ans offlog=$out/$1.offer.log anslog=$out/$1.answer.log
  local rc_off rc_ans fail=0 chatlog aiolog
  case $name in
    chat-offers)
      off=("$chat" offer "${chat_opts[@]}" "${msgs[@]}")
      ans=("${peer[@]}" --role answer) ;;
    aiortc-offers)
      off=("${peer[@]}" --role offer "${msgs[@]}")
      ans=("$chat" answer "${chat_opts[@]}") ;;
    chat-offers-back)
      off=("$chat" offer "${chat_opts[@]}" "${msgs[@]}")
      ans=("${peer[@]}" --role answer --open-channel "${msgs[@]}") ;;
    aiortc-offers-back)
      off=("${peer[@]}" --role offer "${msgs[@]}")
      ans=("$chat" answer "${chat_opts[@]}" --open-channel "${msgs[@]}") ;;
    *)
      echo "  unknown case $name"
      return 1 ;;
  esac
  timeout 40 "${ans[@]}" --signal "$sock" >"$anslog" 2>&1 &
  local apid=$!
  pids+=("$apid")
  timeout 40 "${off[@]}" --signal "$sock" >"$offlog" 2>&1
  rc_off=$?
  wait "$apid"
  rc_ans=$?
  [ "$rc_off" = 0 ] || { echo "    offerer exited $rc_off"; fail=1; }
  [ "$rc_ans" = 0 ] || { echo "    answerer exited $rc_ans"; fail=1; }
  # Trickle: chat sent a candidate after its description, aiortc applied it.
  case $name in
    chat-*) chatlog=$offlog aiolog=$anslog ;;
    *) chatlog=$anslog aiolog=$offlog ;;
  esac
  expect "$chatlog" "trickled a=candidate:" || fail=1
  expect "$aiolog" "remote a=candidate:" "remote gathering done" || fail=1
  # The offerer's "chat" channel: all echoed on the offerer, all replied on
  # the answerer, closed by the offerer and seen closed on the answerer.
  expect "$offlog" "chat: sent $n_msgs, echoed $n_msgs" "chat: all $n_msgs messages echoed, closing the channel" || fail=1
  expect "$anslog" "chat: received $n_msgs, replied $n_msgs" "chat: closed by the peer" || fail=1
  case $name in
    *-back)
      expect "$anslog" "chat: sent $n_msgs, echoed $n_msgs" || fail=1
      expect "$offlog" "chat: received $n_msgs, replied $n_msgs" "channel opened by the peer" \
        "closed by the peer" || fail=1 ;;
  esac
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
  if run_case "$c"; then
    passed=$((passed + 1))
    echo "   ok"
  else
    failed=$((failed + 1))
    echo "   FAILED"
  fi
done
[ "${XP2P_KEEP_LOGS:-0}" = 1 ] || [ "$failed" != 0 ] || rm -f "$out"/*.log
summary "$passed" "$failed"

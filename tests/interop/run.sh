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
# In every case chat must have trickled a candidate and aiortc applied it
# (chat as answerer may have it in its answer instead, on a busy machine);
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
# shellcheck source=tests/lib/peer-run.sh
. "$root/tests/lib/peer-run.sh"

cd "$root"
if ! py=$(timeout 600 "$here/deps.sh"); then
  give_up "aiortc could not be installed (tests/interop/deps.sh)"
fi
build_chat
peer=("$py" "$here/aiortc_peer.py")
[ "${AIORTC_SRTP_SHIM:-0}" = 1 ] && peer+=(--srtp-shim)

# The largest message: what aiortc accepts, at most what we advertise.
largest_message aiortc "$py" "$here/aiortc_peer.py" --print-max-message-size
echo "aiortc $("$py" -c 'import aiortc; print(aiortc.__version__)') advertises" \
  "a=max-message-size:$theirs; libxp2p $ours; largest message sent: $big bytes"
msgs=(--count 3 --empty --size 1 --size 1200 --size 65536 --size "$big")
n_msgs=$((3 + 2 + 4))

scratch interop
start_stun "$py" 600

# run_case NAME: starts the answerer in the background, the offerer in the
# foreground (each bounded by timeout 130; both also give up after 120 s:
# generous hang guards, a busy machine slows everything).
run_case() {
  local name=$1 sock=$tmp/$1.sock off ans offlog=$out/$1.offer.log anslog=$out/$1.answer.log
  local fail=0 chatlog aiolog
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
  run_pair 130 "$offlog" "$anslog" --timeout 120 --signal "$sock" || fail=1
  # Trickle: chat sent a candidate after its description, aiortc applied it
  # (or, answering on a busy machine, chat had it in its answer:
  # expect_srflx_delivered).
  case $name in
    chat-*) chatlog=$offlog aiolog=$anslog ;;
    *) chatlog=$anslog aiolog=$offlog ;;
  esac
  expect_srflx_delivered "$chatlog" "$aiolog" "remote a=candidate:" || fail=1
  expect "$aiolog" "remote gathering done" || fail=1
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
  [ "$fail" = 0 ] || show_logs "$offlog" "$anslog"
  return $fail
}

run_cases

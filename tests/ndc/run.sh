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
case_timeout=90 # seconds each program gives itself (bulk: twice that)

# shellcheck source=tests/lib/peer-run.sh
. "$root/tests/lib/peer-run.sh"

cd "$root"
if ! module=$(timeout 600 "$here/deps.sh"); then
  give_up "node-datachannel could not be installed (tests/ndc/deps.sh)"
fi
build_chat
peer=(node "$here/ndc_peer.mjs" --module "$module")

# The largest message: what libdatachannel accepts, at most what we advertise.
largest_message libdatachannel "${peer[@]}" --print-max-message-size
ndc_version=$(node -p 'require(process.argv[1]).version' \
  "${module%/dist/esm/lib/index.mjs}/package.json" 2>/dev/null)
echo "node-datachannel $ndc_version (libdatachannel) advertises" \
  "a=max-message-size:$theirs; libxp2p $ours; largest message sent: $big bytes"
msgs=(--count 3 --empty --size 1 --size 1200 --size 65536 --size "$big")
n_msgs=$((3 + 2 + 4))
bulk_bytes=$((50 * 1000 * 1000))

scratch ndc
start_stun python3 300

# run_case NAME: starts the answerer in the background, the offerer in the
# foreground (each bounded by timeout; both also give up on their own).
run_case() {
  local name=$1 sock=$tmp/$1.sock off ans offlog=$out/$1.offer.log anslog=$out/$1.answer.log
  local fail=0 chatlog ndclog t=$case_timeout n=$n_msgs bulk=()
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
  run_pair $((t + 10)) "$offlog" "$anslog" --timeout "$t" --signal "$sock" || fail=1
  case $name in
    ndc-*) ndclog=$offlog chatlog=$anslog ;;
    *) ndclog=$anslog chatlog=$offlog ;;
  esac
  # Trickle both ways: chat sent its server-reflexive candidate after its
  # description and libdatachannel applied it (or, answering on a busy
  # machine, had it in its answer: expect_srflx_delivered); libdatachannel's
  # candidates all came after its description and chat applied them.
  expect "$chatlog" "remote a=candidate:" "remote gathering done" || fail=1
  expect "$ndclog" "trickled a=candidate:" "local gathering done" || fail=1
  expect_srflx_delivered "$chatlog" "$ndclog" "remote a=candidate:.* typ srflx" || fail=1
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
  [ "$fail" = 0 ] || show_logs "$offlog" "$anslog"
  return $fail
}

run_cases --timed

#!/bin/sh
# Runs the Quick Start example as two processes (offerer and answerer) with
# host candidates on loopback only and a STUN server address on loopback
# where nothing answers (gathering must still complete): both must exit 0,
# each having received the other's message.
# usage: quickstart_pair.sh path/to/quickstart [path/to/answerer-quickstart]
# (a second binary, e.g. built against another DTLS backend, plays the answerer)
set -u
bin=$1
answer_bin=${2:-$1}
dir=$(mktemp -d /tmp/xp2p-quickstart-XXXXXX)
trap 'rm -rf "$dir"' EXIT
export XP2P_INTERFACES=lo
stun=127.0.0.1:9
timeout 60 "$bin" offer --signal "$dir/sig" --stun "$stun" --message "ping from offerer" \
  >"$dir/offer.log" 2>&1 &
offer_pid=$!
timeout 60 "$answer_bin" answer --signal "$dir/sig" --stun "$stun" --message "pong from answerer" \
  >"$dir/answer.log" 2>&1
answer_rc=$?
wait $offer_pid
offer_rc=$?
echo "== offerer (exit $offer_rc)"; cat "$dir/offer.log"
echo "== answerer (exit $answer_rc)"; cat "$dir/answer.log"
fail=0
[ $offer_rc = 0 ] && [ $answer_rc = 0 ] || fail=1
grep -q 'received on "chat": pong from answerer' "$dir/offer.log" || fail=1
grep -q 'received on "chat": ping from offerer' "$dir/answer.log" || fail=1
grep -q 'the peer opened channel "chat"' "$dir/answer.log" || fail=1
grep -q 'state Connected' "$dir/offer.log" || fail=1
[ $fail = 0 ] && echo "quickstart pair: messages exchanged" || echo "quickstart pair: FAILED"
exit $fail

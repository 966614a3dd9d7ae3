#!/usr/bin/env bash
# Scenario (c): consent freshness. As link.sh (two namespaces, one veth
# pair), both sides with --duration 70 --expect-failure. The path stays up
# HOLD_S seconds after the transfer, so consent must have been refreshed at
# least once (checks every ~5 s), then it dies: an nftables rule in the
# offerer's namespace drops every packet in and out (the interfaces stay up,
# so no local error tells the agents). Each side must report state Failed
# after the cut, by its 30 s consent timeout (SLACK_MS is generous: a busy
# machine delays processes; this checks that consent expiry fails the path,
# how fast is for benchmarks), and the offerer more than 30 s after it
# connected (so the refresh did happen).
source "$(dirname "$0")/lib.sh"
require

LIMIT_MS=30000
SLACK_MS=20000
HOLD_S=8
WITHIN_S=$(((LIMIT_MS + SLACK_MS) / 1000))
opts=(--duration 70 --expect-failure)

ns_new A a
ns_new B b
veth "$A" eth0 10.99.0.1/24 "$B" eth0 10.99.0.2/24

sock=$WORK/signal.sock
nsrun "$A" offer 110 "$ICE_ECHO" offer --signal "$sock" --count 1000 "${opts[@]}"
offer=$LAST_PID
nsrun "$B" answer 110 "$ICE_ECHO" answer --signal "$sock" "${opts[@]}"
answer=$LAST_PID

wait_for_line "$WORK/offer.log" '^ice_echo: sent' 60 || fail "no transfer within 60 s"
result=$(grep '^ice_echo: sent' "$WORK/offer.log")
[ "$result" = "ice_echo: sent 1000, echoed 1000, lost 0" ] || fail "transfer before the cut: $result"
wait_for_line "$WORK/answer.log" 'keeping the connection' 30 ||
  fail "answerer did not see the end of the transfer"
nap "$HOLD_S"
grep -q 'state Failed' "$WORK/offer.log" "$WORK/answer.log" && fail "Failed before the cut"

ip netns exec "$A" nft -f - <<'EOF' || fail "cannot install the drop rules"
table inet cut {
  chain input { type filter hook input priority -300; policy drop; }
  chain output { type filter hook output priority -300; policy drop; }
}
EOF
cut=$(now_ms)
log "path cut (all packets dropped in $A)"

wait_for_line "$WORK/offer.log" 'state Failed' "$WITHIN_S" ||
  fail "offerer not Failed within $WITHIN_S s of the cut"
offer_after=$(($(now_ms) - cut))
log "offerer Failed $offer_after ms after the cut"
left=$(((LIMIT_MS + SLACK_MS - ($(now_ms) - cut)) / 1000 + 1))
answer_after=
if wait_for_line "$WORK/answer.log" 'state Failed' "$left"; then
  answer_after=$(($(now_ms) - cut))
  log "answerer Failed $answer_after ms after the cut"
fi

wait_rc offer_rc "$offer"
wait_rc answer_rc "$answer"
log "offer exit $offer_rc, answer exit $answer_rc"
# The offerer's own clock: Connected to Failed must exceed the 30 s timeout.
connected_at=$(log_ms "$WORK/offer.log" 'state Connected')
failed_at=$(log_ms "$WORK/offer.log" 'state Failed')
log "offerer: Connected at $connected_at ms, Failed at $failed_at ms (its clock)"
[ $((failed_at - connected_at)) -gt "$LIMIT_MS" ] ||
  fail "Failed $((failed_at - connected_at)) ms after Connected: consent was never refreshed"
[ "$offer_after" -le $((LIMIT_MS + SLACK_MS)) ] || fail "offerer Failed only after $offer_after ms"
[ "$offer_rc" = 0 ] || fail "offerer exit $offer_rc"
[ -n "$answer_after" ] || fail "answerer not Failed within $WITHIN_S s of the cut"
[ "$answer_rc" = 0 ] || fail "answerer exit $answer_rc"
pass "Failed $offer_after ms (offerer) and $answer_after ms (answerer) after the cut"

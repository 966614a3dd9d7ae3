#!/usr/bin/env bash
# Scenario (a): two namespaces joined by one veth pair (10.99.0.1/24 and
# 10.99.0.2/24); ice_echo offer in one, answer in the other; 1000 datagrams
# echoed, none lost.
source "$(dirname "$0")/lib.sh"
require

ns_new A a
ns_new B b
veth "$A" eth0 10.99.0.1/24 "$B" eth0 10.99.0.2/24

sock=$WORK/signal.sock
nsrun "$A" offer 30 "$ICE_ECHO" offer --signal "$sock" --count 1000
offer=$LAST_PID
nsrun "$B" answer 30 "$ICE_ECHO" answer --signal "$sock"
answer=$LAST_PID

wait_rc offer_rc "$offer"
wait_rc answer_rc "$answer"
result=$(grep '^ice_echo: sent' "$WORK/offer.log")
log "offer exit $offer_rc, answer exit $answer_rc; offer: $(candidate_types "$WORK/offer.log")"
[ "$offer_rc" = 0 ] || fail "offerer exit $offer_rc: ${result:-no result}"
[ "$answer_rc" = 0 ] || fail "answerer exit $answer_rc"
[ "$result" = "ice_echo: sent 1000, echoed 1000, lost 0" ] || fail "unexpected result: $result"
grep -q 'local candidate host  10.99.0.1:' "$WORK/offer.log" || fail "offerer did not use 10.99.0.1"
pass "$result"

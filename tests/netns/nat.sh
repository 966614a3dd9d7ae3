#!/usr/bin/env bash
# Scenario (b): two clients behind two masquerading NATs, a STUN server on
# the "public" segment between the NATs.
#
#   client A 192.168.1.2 --- 192.168.1.1 router A 10.200.0.2 --+
#                                                               +-- br0 10.200.0.1 "public" (coturn, STUN only)
#   client B 192.168.2.2 --- 192.168.2.1 router B 10.200.0.3 --+
#
# The routers masquerade what leaves their public side (nftables) and route
# nothing else: neither client can reach the other's host address, so the
# agents must connect through server-reflexive / peer-reflexive candidates.
# Linux UDP masquerade keeps the source port when it is free, which makes the
# mapping endpoint-independent; the filtering is address-and-port-dependent
# (conntrack), like a common home router.
#
# The routers drop unsolicited packets from the public side (ct state new).
# That is what a home router's firewall does, and it matters here: accepted,
# the first check of the peer (which arrives before our own check has opened
# the mapping) would leave a conntrack entry for the router itself on that
# port pair, and masquerade would then give our outgoing packets another
# port: an endpoint-dependent ("symmetric") mapping that two peers without a
# TURN relay cannot traverse. 1000 datagrams echoed, none lost.
source "$(dirname "$0")/lib.sh"
require turnserver

two_nats
nat_routers masquerade

# A plain STUN server on the public address: no TURN.
public_coturn 60 --stun-only
log "coturn listening on 10.200.0.1:3478"

# The private addresses must be unreachable across the NATs: no router and
# not the public side knows a route to the other private network.
no_route "$RA 192.168.2.2" "$RB 192.168.1.2" "$PUB 192.168.1.2" "$PUB 192.168.2.2"

echo_pair 40 offer answer 1000 --stun 10.200.0.1:3478
log "offer exit $offer_rc, answer exit $answer_rc"
echo_ok
types="offerer: $(candidate_types "$WORK/offer.log")/ answerer: $(candidate_types "$WORK/answer.log")"
pass "$result through two NATs ($types)"

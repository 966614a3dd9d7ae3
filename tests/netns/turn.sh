#!/usr/bin/env bash
# Scenario (d): two clients behind two *symmetric* NATs, coturn as STUN and
# TURN server (long-term credentials) on the "public" segment.
#
#   client A 192.168.1.2 --- 192.168.1.1 router A 10.200.0.2 --+
#                                                               +-- br0 10.200.0.1 "public" (coturn)
#   client B 192.168.2.2 --- 192.168.2.1 router B 10.200.0.3 --+
#
# The routers masquerade with fully random ports (nftables `masquerade
# fully-random`): every new destination gets another mapping, so the
# server-reflexive address the STUN server saw is useless for the peer,
# and unsolicited packets from the public side are dropped. Without a relay
# the two cannot connect: that is checked first (ice_echo with STUN only
# must not connect). With `--turn` both gather a relayed candidate and must
# connect and echo 1000 datagrams; nftables counters on the routers then
# show that the datagrams went to coturn, not to the other router.
source "$(dirname "$0")/lib.sh"
require turnserver

two_nats
# The rest of "the internet": a default route to a gateway that does not
# exist (a permanent neighbour entry, so nothing waits for ARP); what goes
# there is flooded on the bridge and dropped by the routers. Without any
# route, coturn's relayed sends to the clients' private host addresses fail
# with "network unreachable", and coturn then closes that allocation.
ip -n "$PUB" neigh add 10.200.0.254 lladdr 02:00:00:00:00:fe dev br0 nud permanent
ip -n "$PUB" route add default via 10.200.0.254 || fail "default route in $PUB"

# Symmetric NATs; counters for what goes to coturn and what to the peer.
nat_routers "masquerade fully-random" '  counter to_server {}
  counter to_peer {}' '    oifname "wan" ip daddr 10.200.0.1 counter name "to_server"
    oifname "wan" ip daddr != 10.200.0.1 counter name "to_peer"'

public_coturn 110 --no-tcp-relay --relay-ip 10.200.0.1 --min-port 50000 --max-port 50100 \
  --lt-cred-mech --user xp2p:netns-secret --realm xp2p.test --verbose
log "coturn (STUN and TURN) listening on 10.200.0.1:3478"

# The private addresses must be unreachable across the NATs.
no_route "$RA 192.168.2.2" "$RB 192.168.1.2"
for dst in 192.168.1.2 192.168.2.2; do
  ip -n "$PUB" route get "$dst" | grep -q 'via 10.200.0.254' ||
    fail "$PUB routes $dst somewhere real: the topology is wrong"
done

# packets ROUTER COUNTER, bytes ROUTER COUNTER: what the counter has seen so
# far. A UDP GSO send crosses the router as one packet of several datagrams,
# so how much went where is judged by bytes; packets count what went
# straight to the other router (single connectivity checks).
packets() {
  ip netns exec "$1" nft list counter ip filter "$2" | sed -nE 's/.*packets ([0-9]+).*/\1/p'
}
bytes() {
  ip netns exec "$1" nft list counter ip filter "$2" | sed -nE 's/.*bytes ([0-9]+).*/\1/p'
}

sock=$WORK/signal.sock
stun=10.200.0.1:3478
turn=(--turn turn:10.200.0.1:3478 --turn-user xp2p --turn-pass netns-secret)

# Without a relay: server-reflexive candidates only, no connection.
echo_pair 40 offer-stun answer-stun 10 --stun "$stun"
log "without TURN: offer exit $offer_rc, answer exit $answer_rc"
[ "$offer_rc" = 1 ] || fail "connected (or broke) without TURN through symmetric NATs: exit $offer_rc"
grep -q 'not connected' "$WORK/offer-stun.log" || grep -q 'ICE failed' "$WORK/offer-stun.log" ||
  fail "the STUN-only run ended for another reason"
rm -f "$sock"

server_a0=$(bytes "$RA" to_server)
peer_a0=$(packets "$RA" to_peer)
server_b0=$(bytes "$RB" to_server)
peer_b0=$(packets "$RB" to_peer)

echo_pair 60 offer answer 1000 --stun "$stun" "${turn[@]}"
log "with TURN: offer exit $offer_rc, answer exit $answer_rc"
echo_ok
for side in offer answer; do
  grep -q 'relayed candidate gathered' "$WORK/$side.log" || fail "$side gathered no relayed candidate"
done

to_server_a=$(($(bytes "$RA" to_server) - server_a0))
to_peer_a=$(($(packets "$RA" to_peer) - peer_a0))
to_server_b=$(($(bytes "$RB" to_server) - server_b0))
to_peer_b=$(($(packets "$RB" to_peer) - peer_b0))
log "router A forwarded $to_server_a bytes to coturn, $to_peer_a datagrams to router B"
log "router B forwarded $to_server_b bytes to coturn, $to_peer_b datagrams to router A"
# Each side's 1000 datagrams of 100 bytes (and echoes) went through coturn,
# each at least 104 bytes of UDP payload there (ChannelData); what went to
# the other router directly are only the connectivity checks that failed.
[ "$to_server_a" -ge 104000 ] || fail "only $to_server_a bytes from A went to coturn"
[ "$to_server_b" -ge 104000 ] || fail "only $to_server_b bytes from B went to coturn"
[ "$to_peer_a" -lt 100 ] || fail "$to_peer_a datagrams from A went straight to router B"
[ "$to_peer_b" -lt 100 ] || fail "$to_peer_b datagrams from B went straight to router A"
types="offerer: $(candidate_types "$WORK/offer.log")/ answerer: $(candidate_types "$WORK/answer.log")"
pass "$result through two symmetric NATs via coturn ($types; A->coturn $to_server_a bytes, A->B $to_peer_a datagrams)"

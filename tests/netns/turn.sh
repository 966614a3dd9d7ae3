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

ns_new PUB pub
ns_new RA ra
ns_new RB rb
ns_new CA ca
ns_new CB cb

ip -n "$PUB" link add br0 type bridge
ip -n "$PUB" addr add 10.200.0.1/24 dev br0
ip -n "$PUB" link set br0 up
veth "$PUB" pa - "$RA" wan 10.200.0.2/24
veth "$PUB" pb - "$RB" wan 10.200.0.3/24
ip -n "$PUB" link set pa master br0
ip -n "$PUB" link set pb master br0
# The rest of "the internet": a default route to a gateway that does not
# exist (a permanent neighbour entry, so nothing waits for ARP); what goes
# there is flooded on the bridge and dropped by the routers. Without any
# route, coturn's relayed sends to the clients' private host addresses fail
# with "network unreachable", and coturn then closes that allocation.
ip -n "$PUB" neigh add 10.200.0.254 lladdr 02:00:00:00:00:fe dev br0 nud permanent
ip -n "$PUB" route add default via 10.200.0.254 || fail "default route in $PUB"

veth "$RA" lan 192.168.1.1/24 "$CA" eth0 192.168.1.2/24
veth "$RB" lan 192.168.2.1/24 "$CB" eth0 192.168.2.2/24
ip -n "$CA" route add default via 192.168.1.1
ip -n "$CB" route add default via 192.168.2.1

for r in "$RA" "$RB"; do
  ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$r" nft -f - <<'EOF' || fail "nft rules in $r"
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade fully-random
  }
}
table ip filter {
  counter to_server {}
  counter to_peer {}
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state new drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wan" ct state new drop
    oifname "wan" ip daddr 10.200.0.1 counter name "to_server"
    oifname "wan" ip daddr != 10.200.0.1 counter name "to_peer"
  }
}
EOF
done

nsrun "$PUB" turnserver 110 turnserver -n --no-cli --no-tls --no-dtls --no-tcp-relay \
  --listening-ip 10.200.0.1 --listening-port 3478 --relay-ip 10.200.0.1 \
  --min-port 50000 --max-port 50100 --lt-cred-mech --user xp2p:netns-secret \
  --realm xp2p.test --verbose --log-file "$WORK/coturn.log" --simple-log --no-stdout-log \
  --pidfile "$WORK/coturn.pid" --userdb "$WORK/turndb"
end=$(($(now_ms) + 10000))
until ip netns exec "$PUB" ss -Hlun 2>/dev/null | grep -q '10.200.0.1:3478'; do
  [ "$(now_ms)" -lt "$end" ] || fail "coturn did not listen on 10.200.0.1:3478"
  kill -0 "$LAST_PID" 2>/dev/null || fail "coturn exited"
  sleep 0.1
done
log "coturn (STUN and TURN) listening on 10.200.0.1:3478"

# The private addresses must be unreachable across the NATs.
for pair in "$RA 192.168.2.2" "$RB 192.168.1.2"; do
  set -- $pair
  if ip -n "$1" route get "$2" >/dev/null 2>&1; then
    fail "$1 has a route to $2: the topology is wrong"
  fi
done
for dst in 192.168.1.2 192.168.2.2; do
  ip -n "$PUB" route get "$dst" | grep -q 'via 10.200.0.254' ||
    fail "$PUB routes $dst somewhere real: the topology is wrong"
done

# packets ROUTER COUNTER: what the counter has seen so far.
packets() {
  ip netns exec "$1" nft list counter ip filter "$2" | sed -nE 's/.*packets ([0-9]+).*/\1/p'
}

sock=$WORK/signal.sock
stun=10.200.0.1:3478
turn=(--turn turn:10.200.0.1:3478 --turn-user xp2p --turn-pass netns-secret)

# Without a relay: server-reflexive candidates only, no connection.
nsrun "$CA" offer-stun 40 "$ICE_ECHO" offer --signal "$sock" --stun "$stun" --count 10
offer=$LAST_PID
nsrun "$CB" answer-stun 40 "$ICE_ECHO" answer --signal "$sock" --stun "$stun"
answer=$LAST_PID
wait_rc offer_rc "$offer"
wait_rc answer_rc "$answer"
log "without TURN: offer exit $offer_rc, answer exit $answer_rc"
[ "$offer_rc" = 1 ] || fail "connected (or broke) without TURN through symmetric NATs: exit $offer_rc"
grep -q 'not connected' "$WORK/offer-stun.log" || grep -q 'ICE failed' "$WORK/offer-stun.log" ||
  fail "the STUN-only run ended for another reason"
rm -f "$sock"

server_a0=$(packets "$RA" to_server)
peer_a0=$(packets "$RA" to_peer)
server_b0=$(packets "$RB" to_server)
peer_b0=$(packets "$RB" to_peer)

nsrun "$CA" offer 60 "$ICE_ECHO" offer --signal "$sock" --stun "$stun" "${turn[@]}" --count 1000
offer=$LAST_PID
nsrun "$CB" answer 60 "$ICE_ECHO" answer --signal "$sock" --stun "$stun" "${turn[@]}"
answer=$LAST_PID
wait_rc offer_rc "$offer"
wait_rc answer_rc "$answer"
result=$(grep '^ice_echo: sent' "$WORK/offer.log")
log "with TURN: offer exit $offer_rc, answer exit $answer_rc"
[ "$offer_rc" = 0 ] || fail "offerer exit $offer_rc: ${result:-no result}"
[ "$answer_rc" = 0 ] || fail "answerer exit $answer_rc"
[ "$result" = "ice_echo: sent 1000, echoed 1000, lost 0" ] || fail "unexpected result: $result"
for side in offer answer; do
  grep -q 'relayed candidate gathered' "$WORK/$side.log" || fail "$side gathered no relayed candidate"
done

to_server_a=$(($(packets "$RA" to_server) - server_a0))
to_peer_a=$(($(packets "$RA" to_peer) - peer_a0))
to_server_b=$(($(packets "$RB" to_server) - server_b0))
to_peer_b=$(($(packets "$RB" to_peer) - peer_b0))
log "router A forwarded $to_server_a datagrams to coturn, $to_peer_a to router B"
log "router B forwarded $to_server_b datagrams to coturn, $to_peer_b to router A"
# Each side's 1000 datagrams (and echoes) went through coturn; what went to
# the other router directly are only the connectivity checks that failed.
[ "$to_server_a" -ge 1000 ] || fail "only $to_server_a datagrams from A went to coturn"
[ "$to_server_b" -ge 1000 ] || fail "only $to_server_b datagrams from B went to coturn"
[ "$to_peer_a" -lt 100 ] || fail "$to_peer_a datagrams from A went straight to router B"
[ "$to_peer_b" -lt 100 ] || fail "$to_peer_b datagrams from B went straight to router A"
types="offerer: $(candidate_types "$WORK/offer.log")/ answerer: $(candidate_types "$WORK/answer.log")"
pass "$result through two symmetric NATs via coturn ($types; A->coturn $to_server_a, A->B $to_peer_a)"

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

ns_new PUB pub
ns_new RA ra
ns_new RB rb
ns_new CA ca
ns_new CB cb

# The public segment: a bridge in PUB, one port per router.
ip -n "$PUB" link add br0 type bridge
ip -n "$PUB" addr add 10.200.0.1/24 dev br0
ip -n "$PUB" link set br0 up
veth "$PUB" pa - "$RA" wan 10.200.0.2/24
veth "$PUB" pb - "$RB" wan 10.200.0.3/24
ip -n "$PUB" link set pa master br0
ip -n "$PUB" link set pb master br0

# The private sides.
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
    oifname "wan" masquerade
  }
}
table ip filter {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state new drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wan" ct state new drop
  }
}
EOF
done

# A plain STUN server on the public address: no TURN, no CLI, no TLS/DTLS,
# no configuration file, everything it writes in our work directory.
nsrun "$PUB" turnserver 60 turnserver -n --stun-only --no-cli --no-tls --no-dtls \
  --listening-ip 10.200.0.1 --listening-port 3478 --log-file "$WORK/coturn.log" \
  --simple-log --no-stdout-log --pidfile "$WORK/coturn.pid" --userdb "$WORK/turndb"
end=$(($(now_ms) + 10000))
until ip netns exec "$PUB" ss -Hlun 2>/dev/null | grep -q '10.200.0.1:3478'; do
  [ "$(now_ms)" -lt "$end" ] || fail "coturn did not listen on 10.200.0.1:3478"
  kill -0 "$LAST_PID" 2>/dev/null || fail "coturn exited"
  sleep 0.1
done
log "coturn listening on 10.200.0.1:3478"

# The private addresses must be unreachable across the NATs: no router and
# not the public side knows a route to the other private network.
for pair in "$RA 192.168.2.2" "$RB 192.168.1.2" "$PUB 192.168.1.2" "$PUB 192.168.2.2"; do
  set -- $pair
  if ip -n "$1" route get "$2" >/dev/null 2>&1; then
    fail "$1 has a route to $2: the topology is wrong"
  fi
done

sock=$WORK/signal.sock
stun=10.200.0.1:3478
nsrun "$CA" offer 40 "$ICE_ECHO" offer --signal "$sock" --stun "$stun" --count 1000
offer=$LAST_PID
nsrun "$CB" answer 40 "$ICE_ECHO" answer --signal "$sock" --stun "$stun"
answer=$LAST_PID

wait_rc offer_rc "$offer"
wait_rc answer_rc "$answer"
result=$(grep '^ice_echo: sent' "$WORK/offer.log")
log "offer exit $offer_rc, answer exit $answer_rc"
[ "$offer_rc" = 0 ] || fail "offerer exit $offer_rc: ${result:-no result}"
[ "$answer_rc" = 0 ] || fail "answerer exit $answer_rc"
[ "$result" = "ice_echo: sent 1000, echoed 1000, lost 0" ] || fail "unexpected result: $result"
types="offerer: $(candidate_types "$WORK/offer.log")/ answerer: $(candidate_types "$WORK/answer.log")"
pass "$result through two NATs ($types)"

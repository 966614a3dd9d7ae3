# Shared helpers of the network-namespace tests; sourced by the scenario
# scripts. Every namespace is named xp2p-<pid>-<name>; everything a scenario
# creates (namespaces, processes, its work directory with the logs and the
# signaling socket) is removed by the EXIT trap, also on failure or signal.
#
# Environment:
#   ICE_ECHO        the ice_echo binary (run.sh builds it and sets this)
#   XP2P_KEEP_LOGS  1: keep the work directory and say where it is

set -u

netns_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ICE_ECHO=${ICE_ECHO:-$netns_dir/../../build/netns/ice_echo}
SCENARIO=${SCENARIO:-$(basename "$0" .sh)}
NS_PREFIX="xp2p-$$-"
NAMESPACES=()
PIDS=()
WORK=$(mktemp -d "/tmp/xp2p-netns-$SCENARIO.XXXXXX")
T0=$(date +%s%N)

# Milliseconds since the scenario started.
elapsed_ms() { echo $((($(date +%s%N) - T0) / 1000000)); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

log() { echo "[$SCENARIO $(elapsed_ms) ms] $*"; }

cleanup() {
  local pid ns p
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    # ice_echo stops on SIGTERM at once; give it a moment, then force.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ns in "${NAMESPACES[@]}"; do
    # Whatever still runs inside our own namespaces was started by us.
    for p in $(ip netns pids "$ns" 2>/dev/null); do
      kill -KILL "$p" 2>/dev/null
    done
    ip netns del "$ns" 2>/dev/null
  done
  if [ "${XP2P_KEEP_LOGS:-0}" = 1 ]; then
    echo "[$SCENARIO] logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# pass|fail MESSAGE: the scenario's verdict line; fail also dumps the logs.
pass() {
  echo "PASS $SCENARIO: $* ($(elapsed_ms) ms)"
  exit 0
}
fail() {
  local f
  echo "FAIL $SCENARIO: $* ($(elapsed_ms) ms)"
  for f in "$WORK"/*.log; do
    [ -f "$f" ] || continue
    echo "----- $(basename "$f") (last 60 lines)"
    tail -n 60 "$f"
  done
  echo "-----"
  exit 1
}

# Checks what every scenario needs: root, the tools, the binary.
require() {
  local tool
  [ "$(id -u)" = 0 ] || fail "needs root (network namespaces)"
  for tool in ip nft timeout "$@"; do
    command -v "$tool" >/dev/null || fail "$tool missing (run tests/netns/deps.sh)"
  done
  [ -x "$ICE_ECHO" ] || fail "no ice_echo at $ICE_ECHO (run tests/netns/run.sh)"
}

# ns_new VAR NAME: creates namespace xp2p-<pid>-NAME with loopback up and
# stores its name in VAR (no subshell, so the cleanup list stays complete).
ns_new() {
  local ns="$NS_PREFIX$2"
  NAMESPACES+=("$ns")
  ip netns add "$ns" || fail "cannot create namespace $ns"
  ip -n "$ns" link set lo up
  printf -v "$1" '%s' "$ns"
}

# veth NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two namespaces, both
# ends up with the given addresses (CIDR; "-" for none).
veth() {
  ip -n "$1" link add "$2" type veth peer name "$5" netns "$4" || fail "veth $1/$2 - $4/$5"
  [ "$3" = - ] || ip -n "$1" addr add "$3" dev "$2"
  [ "$6" = - ] || ip -n "$4" addr add "$6" dev "$5"
  ip -n "$1" link set "$2" up
  ip -n "$4" link set "$5" up
}

# nsrun NS NAME SECONDS CMD...: runs CMD in NS in the background under
# `timeout`, output to $WORK/NAME.log; the pid goes to PIDS and to $LAST_PID.
nsrun() {
  local ns=$1 name=$2 secs=$3
  shift 3
  timeout -k 3 "$secs" ip netns exec "$ns" "$@" >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# wait_rc VAR PID: waits for PID (bounded by its own timeout) and stores its
# exit status in VAR (124: the timeout hit).
wait_rc() {
  local rc=0
  wait "$2" || rc=$?
  printf -v "$1" '%s' "$rc"
}

# nap SECONDS: sleep that a signal to this script interrupts at once.
nap() {
  sleep "$1" &
  PIDS+=($!)
  wait $! 2>/dev/null
}

# wait_for_line FILE PATTERN SECONDS: 0 once grep -E finds PATTERN in FILE.
# (checked at least once, even with 0 seconds).
wait_for_line() {
  local end=$(($(now_ms) + $3 * 1000))
  while :; do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    [ "$(now_ms)" -lt "$end" ] || return 1
    sleep 0.1
  done
}

# log_ms FILE PATTERN: the timestamp (ms since that ice_echo started) of the
# first line of its log matching PATTERN; empty if none.
log_ms() {
  grep -m1 -E "$2" "$1" 2>/dev/null | sed -nE 's/^\[ *([0-9]+) ms\].*/\1/p'
}

# The candidate types a side gathered or learned (from its log), e.g. "host srflx".
candidate_types() {
  grep -oE 'local candidate +[a-z]+' "$1" 2>/dev/null | awk '{print $3}' | sort -u | tr '\n' ' '
}

# ---- two clients behind two NATs (nat.sh, turn.sh) -------------------------
#
#   client A 192.168.1.2 --- 192.168.1.1 router A 10.200.0.2 --+
#                                                               +-- br0 10.200.0.1 "public"
#   client B 192.168.2.2 --- 192.168.2.1 router B 10.200.0.3 --+

# two_nats: the namespaces PUB, RA, RB, CA, CB and their links: the public
# segment (a bridge in PUB, one port per router), the private sides and the
# clients' default routes.
two_nats() {
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
  veth "$RA" lan 192.168.1.1/24 "$CA" eth0 192.168.1.2/24
  veth "$RB" lan 192.168.2.1/24 "$CB" eth0 192.168.2.2/24
  ip -n "$CA" route add default via 192.168.1.1
  ip -n "$CB" route add default via 192.168.2.1
}

# nat_routers MASQUERADE [DECLARATIONS [FORWARD_RULES]]: RA and RB forward,
# masquerade what leaves their public side ("wan") with the nftables
# statement MASQUERADE, and drop unsolicited packets from it (ct state
# new); DECLARATIONS go into their table ip filter, FORWARD_RULES at the end
# of its forward chain.
nat_routers() {
  local r
  for r in "$RA" "$RB"; do
    ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$r" nft -f - <<NFT || fail "nft rules in $r"
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" $1
  }
}
table ip filter {
${2:-}
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state new drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wan" ct state new drop
${3:-}
  }
}
NFT
  done
}

# public_coturn SECONDS OPTION...: coturn on 10.200.0.1:3478 in PUB (no CLI,
# no TLS/DTLS, no configuration file, everything it writes in our work
# directory) with OPTION... added, bounded by SECONDS; waits up to 10 s
# until it listens.
public_coturn() {
  local secs=$1 end
  shift
  nsrun "$PUB" turnserver "$secs" turnserver -n --no-cli --no-tls --no-dtls \
    --listening-ip 10.200.0.1 --listening-port 3478 "$@" --log-file "$WORK/coturn.log" \
    --simple-log --no-stdout-log --pidfile "$WORK/coturn.pid" --userdb "$WORK/turndb"
  end=$(($(now_ms) + 10000))
  until ip netns exec "$PUB" ss -Hlun 2>/dev/null | grep -q '10.200.0.1:3478'; do
    [ "$(now_ms)" -lt "$end" ] || fail "coturn did not listen on 10.200.0.1:3478"
    kill -0 "$LAST_PID" 2>/dev/null || fail "coturn exited"
    sleep 0.1
  done
}

# no_route "NS ADDR"...: fails when namespace NS has a route to ADDR.
no_route() {
  local pair
  for pair in "$@"; do
    set -- $pair
    if ip -n "$1" route get "$2" >/dev/null 2>&1; then
      fail "$1 has a route to $2: the topology is wrong"
    fi
  done
}

# echo_pair SECONDS OFFER_LOG ANSWER_LOG COUNT OPTION...: ice_echo offer in
# CA (--count COUNT) and answer in CB, both with OPTION..., bounded by
# SECONDS, their logs $WORK/OFFER_LOG.log and $WORK/ANSWER_LOG.log; sets
# offer_rc, answer_rc and result (the offerer's "ice_echo: sent" line).
echo_pair() {
  local secs=$1 offlog=$2 anslog=$3 count=$4 offer answer
  shift 4
  nsrun "$CA" "$offlog" "$secs" "$ICE_ECHO" offer --signal "$WORK/signal.sock" "$@" --count "$count"
  offer=$LAST_PID
  nsrun "$CB" "$anslog" "$secs" "$ICE_ECHO" answer --signal "$WORK/signal.sock" "$@"
  answer=$LAST_PID
  wait_rc offer_rc "$offer"
  wait_rc answer_rc "$answer"
  result=$(grep '^ice_echo: sent' "$WORK/$offlog.log")
}

# echo_ok: the run of echo_pair succeeded, 1000 datagrams echoed, none lost.
echo_ok() {
  [ "$offer_rc" = 0 ] || fail "offerer exit $offer_rc: ${result:-no result}"
  [ "$answer_rc" = 0 ] || fail "answerer exit $answer_rc"
  [ "$result" = "ice_echo: sent 1000, echoed 1000, lost 0" ] || fail "unexpected result: $result"
}

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

#!/usr/bin/env bash
# Scenario: the benchmark's link emulator (bench/netem/linkem.c) between two
# namespaces, 20 ms each way and 10% loss each way (seeded): 200 UDP probes
# through it; no reply comes back in less than the configured 40 ms, both
# directions lose frames, and the emulator's counters account for every
# probe (a lost probe is a frame the emulator dropped, nothing else).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || fail "needs root (network namespaces)"
for tool in ip cc timeout; do
  command -v "$tool" >/dev/null || fail "$tool missing"
done

root=$(cd "$netns_dir/../.." && pwd)
linkem=$WORK/linkem
cc -O2 -Wall -Wextra -Werror -o "$linkem" "$root/bench/netem/linkem.c" >"$WORK/cc.log" 2>&1 ||
  fail "cannot build linkem"

ns_new A a
ns_new B b
for ns in "$A" "$B"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
"$linkem" link --ns-a "$A" --ns-b "$B" --dev lk0 --delay-ms 20 --loss 0.1 --seed 3 \
  >"$WORK/link.log" 2>&1 &
link_pid=$!
PIDS+=("$link_pid")
wait_for_line "$WORK/link.log" '^linkem ready' 10 || fail "the emulator did not start"
ip -n "$A" link set lk0 address 02:00:00:98:00:01
ip -n "$B" link set lk0 address 02:00:00:98:00:02
ip -n "$A" addr add 10.98.0.1/24 dev lk0
ip -n "$B" addr add 10.98.0.2/24 dev lk0
ip -n "$A" link set lk0 up
ip -n "$B" link set lk0 up
# Static neighbours: the probes are the only frames on the link.
ip -n "$A" neigh replace 10.98.0.2 lladdr 02:00:00:98:00:02 dev lk0 nud permanent
ip -n "$B" neigh replace 10.98.0.1 lladdr 02:00:00:98:00:01 dev lk0 nud permanent

nsrun "$B" echo 60 "$linkem" echo --port 7009
wait_for_line "$WORK/echo.log" '^linkem echo on' 10 || fail "the echo server did not start"
ip netns exec "$A" "$linkem" ping --addr 10.98.0.2 --port 7009 --count 200 --interval-ms 2 \
  >"$WORK/ping.log" 2>&1
ping=$(grep '^linkem ping' "$WORK/ping.log")
kill -USR1 "$link_pid"
wait_for_line "$WORK/link.log" '^linkem stats' 10 || fail "no counters from the emulator"
stats=$(grep '^linkem stats' "$WORK/link.log" | tail -1)
log "$ping"
log "$stats"

num() { sed -nE "s/.*$1=([0-9.]+).*/\1/p"; }
sent=$(echo "$ping" | num sent)
received=$(echo "$ping" | num received)
min_ms=$(echo "$ping" | num min_ms)
a2b=${stats#*a2b } a2b=${a2b%% b2a*}
b2a=${stats#* b2a }
a_in=$(echo "$a2b" | num in) a_fwd=$(echo "$a2b" | num fwd) a_lost=$(echo "$a2b" | num lost)
b_in=$(echo "$b2a" | num in) b_fwd=$(echo "$b2a" | num fwd) b_lost=$(echo "$b2a" | num lost)

[ "$sent" = 200 ] || fail "sent ${sent:-?} probes, not 200"
[ -n "$received" ] && [ "$received" -gt 0 ] || fail "no probe came back"
awk -v m="$min_ms" 'BEGIN { exit !(m >= 40) }' || fail "a reply came back after $min_ms ms, before the 40 ms round trip"
[ "$a_lost" -gt 0 ] && [ "$b_lost" -gt 0 ] || fail "no loss in one direction: $stats"
[ "$a_in" = "$sent" ] || fail "the emulator saw $a_in frames from A, not the $sent probes"
[ $((a_fwd + a_lost)) = "$a_in" ] || fail "A to B: $a_fwd forwarded + $a_lost lost != $a_in"
[ "$b_in" = "$a_fwd" ] || fail "B echoed $b_in of the $a_fwd probes it got"
[ $((b_fwd + b_lost)) = "$b_in" ] || fail "B to A: $b_fwd forwarded + $b_lost lost != $b_in"
[ "$received" = "$b_fwd" ] || fail "A got $received replies, the emulator forwarded $b_fwd"
pass "$received of $sent probes back, lost $a_lost + $b_lost, shortest RTT $min_ms ms"

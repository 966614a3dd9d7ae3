#!/usr/bin/env bash
# Data-channel benchmark of libxp2p with libdatachannel in the same run,
# interleaved run by run (run 1 libxp2p, run 1 libdatachannel, run 2 ...),
# over the paths users have. README, "Benchmark" explains every figure.
#
#   scripts/bench.sh [--runs N] [--quick] [--only COND[,COND...]]
#                    [--metrics M[,M...]] [--no-ndc] [--src DIR] [--build-only]
#                    [--dtls B[,B...]]
#
#   --runs N        runs of every measurement (default 5); the table gives
#                   the median and the min-max of the N runs
#   --quick         small sizes: a full pass takes a few minutes
#   --only C,...    conditions: loopback, veth, rtt50, rtt50-loss1 (default all)
#                     loopback     two processes on 127.0.0.1
#                     veth         two network namespaces joined by a veth
#                                  pair, MTU 1500 (the headline condition)
#                     rtt50        two namespaces joined by bench/netem/linkem
#                                  (TAP devices, MTU 1500), 25 ms each way
#                     rtt50-loss1  the same with 1% random loss each way
#   --metrics M,... throughput (with CPU per byte), rate, latency (ping-pong
#                   of 100 B and 64 KiB), open (create to open, first 64 KiB
#                   echo), idle (idle CPU and RSS per PeerConnection with
#                   100/500/1000 pairs in one process; loopback only)
#                   (default all)
#   --no-ndc        libxp2p only
#   --src DIR       build libxp2p from the source tree DIR (also: XP2P_SRC=DIR);
#                   default: this tree. cargo builds in DIR/target (release)
#   --build-only    build, print the path of xp2p_bench, exit
#   --dtls B,...    build one libxp2p package per DTLS backend (openssl,
#                   mbedtls: CMake XP2P_DTLS), run them alternately in the
#                   same runs, and print them side by side with their ratio
#                   (the first one is also the libxp2p column of the main
#                   table); default: one build with the default backend
#
# The reference is libdatachannel 0.24.5 inside node-datachannel 0.33.4 from
# npm (bench/ndc_bench.mjs), installed into build/bench/ndc. Every run checks
# every byte (sequence numbers, SHA-256, byte-for-byte echoes); a failed
# check fails that run loudly, and the script exits 1 after the table. In
# the emulated conditions every run is preceded by a UDP probe through the
# link (its RTT is printed and must be 45-80 ms) and followed by the
# emulator's frame counters (lost frames must match the configured loss
# within 5 standard deviations; none may overflow its queue).
# Namespaces: xb-a/xb-b (veth), xb-c/xb-d (rtt50), xb-e/xb-f (rtt50-loss1),
# removed on exit; one bench at a time (lock /run/xp2p-bench.lock).
# Logs: build/bench/runs/<UTC date-time>-<tree>/, one directory per
# invocation, build/bench/runs/latest the newest (XP2P_BENCH_DIR replaces
# build/bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${XP2P_BENCH_DIR:-$root/build/bench}
src=${XP2P_SRC:-$root}
runs=5 ndc=1 quick=0 build_only=0 dtls=
conds_all=loopback,veth,rtt50,rtt50-loss1
metrics_all=throughput,rate,latency,open,idle
conds=$conds_all metrics=$metrics_all
usage() {
  sed -n '5,34p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=${2:?}; shift 2 ;;
    --no-ndc) ndc=0; shift ;;
    --quick) quick=1; shift ;;
    --only) conds=${2:?}; shift 2 ;;
    --metrics) metrics=${2:?}; shift 2 ;;
    --src) src=${2:?}; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --dtls) dtls=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || usage
for c in ${conds//,/ }; do [[ ,$conds_all, == *,$c,* ]] || { echo "bench: unknown condition $c" >&2; usage; }; done
for m in ${metrics//,/ }; do [[ ,$metrics_all, == *,$m,* ]] || { echo "bench: unknown metric $m" >&2; usage; }; done
for b in ${dtls//,/ }; do [[ $b =~ ^(openssl|mbedtls)$ ]] || { echo "bench: unknown DTLS backend $b" >&2; usage; }; done
has() { [[ ,$1, == *,$2,* ]]; }
src=$(cd "$src" && pwd)

# ---- build -----------------------------------------------------------------
# This tree keeps the historical paths (tests/transfer uses --build-only);
# another source tree gets its own package and bench build directories.
if [ "$src" = "$root" ]; then
  tag=
else
  tag=-$(echo "$src" | tr -c 'A-Za-z0-9\n' '_')
fi
prefix=$out/prefix$tag
mkdir -p "$out"
{
  cmake -S "$src" -B "$out/pkg$tag" -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release
  cmake --build "$out/pkg$tag"
  cmake --install "$out/pkg$tag"
  cmake -S "$root/bench" -B "$out/build$tag" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
  cmake --build "$out/build$tag"
} >"$out/build$tag.log" 2>&1 || { tail -40 "$out/build$tag.log" >&2; echo "bench: build failed, see $out/build$tag.log" >&2; exit 1; }
bench=$out/build$tag/xp2p_bench
linkem=$out/build$tag/linkem
# --dtls: one more package and bench build per backend (fresh build
# directories per backend: XP2P_DTLS picks XP2P_TURN_TLS's default at the
# first configure), built one after the other in the same cargo target.
declare -A bench_of
bench_of[xp2p]=$bench
dtls_stacks=
for b in ${dtls//,/ }; do
  {
    cmake -S "$src" -B "$out/pkg$tag-$b" -DCMAKE_INSTALL_PREFIX="$prefix-$b" -DCMAKE_BUILD_TYPE=Release -DXP2P_DTLS="$b"
    cmake --build "$out/pkg$tag-$b"
    cmake --install "$out/pkg$tag-$b"
    cmake -S "$root/bench" -B "$out/build$tag-$b" -DCMAKE_PREFIX_PATH="$prefix-$b" -DCMAKE_BUILD_TYPE=Release
    cmake --build "$out/build$tag-$b"
  } >"$out/build$tag-$b.log" 2>&1 || { tail -40 "$out/build$tag-$b.log" >&2; echo "bench: $b build failed, see $out/build$tag-$b.log" >&2; exit 1; }
  bench_of[xp2p-$b]=$out/build$tag-$b/xp2p_bench
  dtls_stacks="$dtls_stacks xp2p-$b"
done
if [ "$build_only" = 1 ]; then echo "$bench"; exit 0; fi

if [ "$(id -u)" != 0 ] && [ "$conds" != loopback ]; then
  echo "bench: the namespace conditions need root (use --only loopback)" >&2; exit 1
fi

own=0
lock=/run/xp2p-bench.lock
[ -w /run ] || lock=/tmp/xp2p-bench.lock
exec 9>>"$lock"
if ! flock -n 9; then
  echo "bench: another bench holds $lock ($(cat "$lock.holder" 2>/dev/null)); waiting for it" >&2
  flock 9
fi
echo "pid $$ since $(date -u +%H:%M:%S) UTC, $src" >"$lock.holder"
own=1

# Idle measurements keep up to 2000 PeerConnections in one process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Every invocation keeps its logs in a directory of its own; runs/latest
# points to the newest.
logs=$out/runs/$(date -u +%Y%m%d-%H%M%S)-$(basename "$src")
mkdir -p "$logs"
ln -sfn "$(basename "$logs")" "$out/runs/latest"

# ---- sizes -------------------------------------------------------------------
# size COND: tp_bytes rate_count pp100_rounds pp64k_rounds open_rounds timeout_s
size() {
  if [ "$quick" = 1 ]; then
    case $1 in
      loopback|veth) echo 50000000 50000 300 50 5 300 ;;
      rtt50) echo 5000000 10000 40 20 3 600 ;;
      rtt50-loss1) echo 2000000 5000 40 15 3 600 ;;
    esac
  else
    case $1 in
      loopback|veth) echo 200000000 200000 1000 200 10 300 ;;
      rtt50) echo 20000000 50000 100 50 5 600 ;;
      rtt50-loss1) echo 5000000 20000 100 30 5 600 ;;
    esac
  fi
}
if [ "$quick" = 1 ]; then idle_levels=50,100 idle_s=3; else idle_levels=100,500,1000 idle_s=10; fi

# ---- libdatachannel reference ----------------------------------------------------
ndc_js=$root/bench/ndc_bench.mjs
ndc_dir=$out/ndc
ndc_pkg=$ndc_dir/node_modules/node-datachannel
ndc_mod=$ndc_pkg/dist/esm/lib/index.mjs
reference="none (--no-ndc)"
if [ "$ndc" = 1 ]; then
  if command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -f "$ndc_pkg/package.json" ] ||
       ! grep -q '"version": "0.33.4"' "$ndc_pkg/package.json"; then
      mkdir -p "$ndc_dir"
      (cd "$ndc_dir" && { [ -f package.json ] || echo '{"private":true}' >package.json; } &&
       npm install --no-audit --no-fund node-datachannel@0.33.4) \
        >"$out/ndc-install.log" 2>&1 || { echo "bench: npm install node-datachannel failed, see $out/ndc-install.log" >&2; ndc=0; }
    fi
    [ -f "$ndc_mod" ] || ndc=0
  else
    echo "bench: no node/npm, libdatachannel comparison skipped" >&2; ndc=0
  fi
  if [ "$ndc" = 1 ]; then
    ldc=$(sed -n 's/.*GIT_TAG "v\{0,1\}\([0-9.]*\)".*/\1/p' "$ndc_pkg/CMakeLists.txt" 2>/dev/null | head -1)
    reference="libdatachannel ${ldc:-?} via node-datachannel $(node -p "require('$ndc_pkg/package.json').version") (npm), node $(node --version)"
  fi
fi
export NDC_MODULE=$ndc_mod
stacks=xp2p; [ "$ndc" = 1 ] && stacks="xp2p ndc"
# With --dtls the backends' builds replace the default one; the first is
# "xp2p" of the main table.
xp2p_main=xp2p
if [ -n "$dtls_stacks" ]; then
  xp2p_main=$(echo $dtls_stacks | cut -d' ' -f1)
  stacks="$dtls_stacks"; [ "$ndc" = 1 ] && stacks="$stacks ndc"
fi

# ---- conditions: namespaces, links, probes -------------------------------------
# net_* per condition: client namespace, server namespace, client address,
# server address, client interface, server interface, emulator delay and loss.
declare -A ns_a ns_b ip_a ip_b if_a if_b em_delay em_loss em_pid echo_pid
ns_a[veth]=xb-a ns_b[veth]=xb-b ip_a[veth]=10.77.1.1 ip_b[veth]=10.77.1.2 if_a[veth]=xb-va if_b[veth]=xb-vb
ns_a[rtt50]=xb-c ns_b[rtt50]=xb-d ip_a[rtt50]=10.77.2.1 ip_b[rtt50]=10.77.2.2 if_a[rtt50]=xbt0 if_b[rtt50]=xbt0
em_delay[rtt50]=25 em_loss[rtt50]=0
ns_a[rtt50-loss1]=xb-e ns_b[rtt50-loss1]=xb-f ip_a[rtt50-loss1]=10.77.3.1 ip_b[rtt50-loss1]=10.77.3.2
if_a[rtt50-loss1]=xbt0 if_b[rtt50-loss1]=xbt0 em_delay[rtt50-loss1]=25 em_loss[rtt50-loss1]=0.01
all_ns="xb-a xb-b xb-c xb-d xb-e xb-f"
probe_port=7009
# The emulator, the echo server and the probe run with a real-time priority
# (they sleep in poll() between frames), so that compilers or other load on
# the machine do not add to the emulated delay; nice -20 where that is refused.
prio=()
if chrt -f 10 true 2>/dev/null; then prio=(chrt -f 10); elif nice -n -20 true 2>/dev/null; then prio=(nice -n -20); fi

pids=()
# The trap is set after the lock is taken, and cleans up only then: the
# namespaces are this bench's own.
cleanup() {
  local p ns
  [ "$own" = 1 ] || return 0
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${em_pid[@]:-}" "${echo_pid[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.2
  for ns in $all_ns; do
    [ -e "/var/run/netns/$ns" ] || continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -f "$out"/bench-$$.sock
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ns_up() {  # NS: a fresh namespace with lo up and no IPv6
  local ns=$1
  if [ -e "/var/run/netns/$ns" ]; then
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns"
  fi
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

setup_cond() {
  local c=$1 a=${ns_a[$1]:-} b=${ns_b[$1]:-}
  [ "$c" = loopback ] && return 0
  ns_up "$a"; ns_up "$b"
  if [ "$c" = veth ]; then
    ip link add "${if_a[$c]}" netns "$a" mtu 1500 type veth peer name "${if_b[$c]}" netns "$b" mtu 1500
  else
    "${prio[@]}" "$linkem" link --ns-a "$a" --ns-b "$b" --dev xbt0 --delay-ms "${em_delay[$c]}" \
      --loss "${em_loss[$c]}" --seed 1 >"$logs/linkem-$c.log" 2>&1 &
    em_pid[$c]=$!
    for _ in $(seq 50); do grep -q '^linkem ready' "$logs/linkem-$c.log" && break; sleep 0.1; done
    grep -q '^linkem ready' "$logs/linkem-$c.log" || { cat "$logs/linkem-$c.log" >&2; echo "bench: link emulator did not start" >&2; exit 1; }
    ip -n "$a" link set xbt0 address 02:00:00:77:00:01 txqueuelen 10000
    ip -n "$b" link set xbt0 address 02:00:00:77:00:02 txqueuelen 10000
  fi
  ip -n "$a" addr add "${ip_a[$c]}/24" dev "${if_a[$c]}"
  ip -n "$b" addr add "${ip_b[$c]}/24" dev "${if_b[$c]}"
  ip -n "$a" link set "${if_a[$c]}" mtu 1500 up
  ip -n "$b" link set "${if_b[$c]}" mtu 1500 up
  if [ "$c" != veth ]; then
    # Static neighbours: no ARP through the lossy link.
    ip -n "$a" neigh replace "${ip_b[$c]}" lladdr 02:00:00:77:00:02 dev xbt0 nud permanent
    ip -n "$b" neigh replace "${ip_a[$c]}" lladdr 02:00:00:77:00:01 dev xbt0 nud permanent
  fi
  ip netns exec "$b" "${prio[@]}" "$linkem" echo --port "$probe_port" >"$logs/echo-$c.log" 2>&1 &
  echo_pid[$c]=$!
  sleep 0.2
}

# link_stats COND: "a2b_in a2b_lost b2a_in b2a_lost overflow" from the emulator.
link_stats() {
  local c=$1 log=$logs/linkem-$1.log n
  n=$(grep -c '^linkem stats' "$log" || true)
  kill -USR1 "${em_pid[$c]}"
  for _ in $(seq 100); do
    [ "$(grep -c '^linkem stats' "$log" || true)" -gt "$n" ] && break
    sleep 0.02
  done
  grep '^linkem stats' "$log" | tail -1 | awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); if ($i == "b2a") d = "b"; else if ($i == "a2b") d = "a"; else if (kv[2] != "") v[d kv[1]] = kv[2] }
    print v["ain"], v["alost"], v["bin"], v["blost"], v["aoverflow"] + v["boverflow"] }'
}

# Runs happen in subshells ($(...)): failures are collected in a file.
failures=$logs/failures.txt
: >"$failures"
fail_run() {
  echo "bench: RUN FAILED: $*" >&2
  echo "$*" >>"$failures"
}

# probe COND LOG: the UDP probe through the path; checks the RTT of the
# emulated conditions. Prints a summary.
probe() {
  local c=$1 log=$2 line med
  [ "$c" = loopback ] && return 0
  line=$(ip netns exec "${ns_a[$c]}" "${prio[@]}" "$linkem" ping --addr "${ip_b[$c]}" --port "$probe_port" \
    --count 10 --interval-ms 20 2>&1 | tail -1) || true
  echo "$line" >>"$log"
  med=$(echo "$line" | sed -n 's/.* median_ms=\([^ ]*\).*/\1/p')
  if [ -z "$med" ]; then
    fail_run "$c: no probe came back through the link ($line)"; return 1
  fi
  if [ -n "${em_delay[$c]:-}" ] &&
     ! awk -v m="$med" -v d="${em_delay[$c]}" 'BEGIN { exit !(m >= 1.8 * d && m <= 3.2 * d) }'; then
    fail_run "$c: probe RTT $med ms, not about $((2 * ${em_delay[$c]})) ms: the delay is not in force"; return 1
  fi
  echo "$line" | sed 's/^linkem ping /probe /'
}

# link_check COND BEFORE AFTER LOG: lost frames against the configured loss.
link_check() {
  local c=$1 log=$4 verdict
  verdict=$(awk -v p="${em_loss[$c]}" -v b="$2" -v a="$3" 'BEGIN {
    split(b, x, " "); split(a, y, " ");
    ain = y[1] - x[1]; alost = y[2] - x[2]; bin = y[3] - x[3]; blost = y[4] - x[4]; ov = y[5] - x[5];
    ok = 1; msg = "";
    for (d = 0; d < 2; d++) {
      n = d ? bin : ain; l = d ? blost : alost;
      e = n * p; sd = sqrt(n * p * (1 - p));
      if (l < e - 5 * sd - 2 || l > e + 5 * sd + 2) ok = 0;
      msg = msg sprintf("%s %d frames, %d lost (%.2f%%); ", d ? "b->a" : "a->b", n, l, n ? 100 * l / n : 0);
    }
    if (ov > 0) { ok = 0; msg = msg sprintf("%d overflowed the queue; ", ov) }
    printf "%s%s\n", ok ? "ok " : "BAD ", msg }')
  echo "link $verdict" >>"$log"
  echo "link $verdict"
  case $verdict in
    BAD*) fail_run "$c: the loss on the link does not match ${em_loss[$c]}: $verdict"; return 1 ;;
  esac
}

# ---- running one measurement ---------------------------------------------------------
# run_pair COND STACK LOG ARGS...: server in the server namespace, client (with
# ARGS) in the client namespace; prints the client's RESULT line.
run_pair() {
  local c=$1 st=$2 log=$3; shift 3
  local sock=$out/bench-$$.sock to srv=() cli=() pre_a=() pre_b=() rc=0 spid before after
  to=$(size "$c" | awk '{print $6}')
  if [ "$c" = loopback ]; then
    pre_a=(env XP2P_INTERFACES=lo) pre_b=(env XP2P_INTERFACES=lo)
    bind_a=127.0.0.1 bind_b=127.0.0.1
  else
    pre_a=(ip netns exec "${ns_a[$c]}" env "XP2P_INTERFACES=${if_a[$c]}")
    pre_b=(ip netns exec "${ns_b[$c]}" env "XP2P_INTERFACES=${if_b[$c]}")
    bind_a=${ip_a[$c]} bind_b=${ip_b[$c]}
  fi
  if [ "$st" != ndc ]; then
    srv=("${pre_b[@]}" "${bench_of[$st]}" server --signal "$sock")
    cli=("${pre_a[@]}" "${bench_of[$st]}" client --signal "$sock" "$@")
  else
    srv=("${pre_b[@]}" node "$ndc_js" server --signal "$sock" --bind "$bind_b")
    cli=("${pre_a[@]}" node "$ndc_js" client --signal "$sock" --bind "$bind_a" "$@")
  fi
  : >"$log.link"
  probe "$c" "$log.link" >&2 || return 1
  [ -n "${em_pid[$c]:-}" ] && before=$(link_stats "$c")
  rm -f "$sock"
  timeout "$to" "${srv[@]}" >"$log.server" 2>&1 &
  spid=$!
  pids+=("$spid")
  timeout "$to" "${cli[@]}" >"$log.client" 2>&1 || rc=$?
  wait "$spid" || true
  if [ -n "${em_pid[$c]:-}" ]; then
    sleep 0.1
    after=$(link_stats "$c")
    link_check "$c" "$before" "$after" "$log.link" >&2 || return 1
  fi
  if [ $rc != 0 ] || ! grep -q '^RESULT' "$log.client"; then
    fail_run "$c $st $*: exit $rc, see $log.client and $log.server"
    tail -5 "$log.client" "$log.server" >&2
    return 1
  fi
  if ! grep '^RESULT' "$log.client" | tail -1 | grep -q ' match=1'; then
    fail_run "$c $st $*: VERIFICATION FAILED (see $log.client, $log.server)"
    return 1
  fi
  grep '^RESULT' "$log.client" | tail -1
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

declare -A vals
keys=()
add() {  # KEY STACK VALUE
  [ -n "$3" ] || return 0
  if [[ " ${keys[*]:-} " != *" $1 "* ]]; then keys+=("$1"); fi
  vals[$1|$2]="${vals[$1|$2]:-} $3"
}

# measure COND STACK RUN: every selected metric of one stack in one condition.
measure() {
  local c=$1 st=$2 i=$3 r l
  local tp rate pp100 pp64k openr to
  read -r tp rate pp100 pp64k openr to <<<"$(size "$c")"
  local base=$logs/run$i-$c-$st
  if has "$metrics" throughput && r=$(run_pair "$c" "$st" "$base-throughput" --mode throughput --bytes "$tp"); then
    add "throughput, 64 KiB messages (MB/s)|$c|+" "$st" "$(echo "$r" | field mbps)"
    add "CPU s per GB sent, both processes|$c|-" "$st" "$(echo "$r" | field cpu_s_per_gb)"
  fi
  if has "$metrics" rate && r=$(run_pair "$c" "$st" "$base-rate" --mode rate --count "$rate"); then
    add "100 B message rate (msg/s)|$c|+" "$st" "$(echo "$r" | field msgps)"
  fi
  if has "$metrics" latency; then
    if r=$(run_pair "$c" "$st" "$base-pp100" --mode pingpong --msg-size 100 --count "$pp100"); then
      add "100 B echo, median (ms)|$c|-" "$st" "$(echo "$r" | field median_ms)"
      add "100 B echo, p99 (ms)|$c|-" "$st" "$(echo "$r" | field p99_ms)"
    fi
    if r=$(run_pair "$c" "$st" "$base-pp64k" --mode pingpong --msg-size 65536 --count "$pp64k"); then
      add "64 KiB echo, median (ms)|$c|-" "$st" "$(echo "$r" | field median_ms)"
      add "64 KiB echo, p99 (ms)|$c|-" "$st" "$(echo "$r" | field p99_ms)"
    fi
  fi
  if has "$metrics" open && r=$(run_pair "$c" "$st" "$base-open" --mode open --repeat "$openr"); then
    add "create to channel open (ms)|$c|-" "$st" "$(echo "$r" | field median_ms)"
    add "first 64 KiB echo after open (ms)|$c|-" "$st" "$(echo "$r" | field first_median_ms)"
  fi
  if has "$metrics" idle && [ "$c" = loopback ]; then
    local log=$base-idle.client ok=1
    if [ "$st" != ndc ]; then
      XP2P_INTERFACES=lo timeout 900 "${bench_of[$st]}" memory --pairs "$idle_levels" --idle "$idle_s" >"$log" 2>&1 || ok=0
    else
      # node-datachannel may crash while tearing thousands of connections
      # down at exit, after its RESULT lines: the figures count, the exit
      # status not.
      timeout 900 node "$ndc_js" memory --pairs "$idle_levels" --idle "$idle_s" >"$log" 2>&1 || true
    fi
    [ "$(grep -c '^RESULT' "$log" || true)" = "$(echo "$idle_levels" | tr ',' '\n' | wc -l)" ] || ok=0
    if [ "$ok" = 1 ]; then
      while read -r l; do
        local p; p=$(echo "$l" | field pairs)
        add "idle CPU, $p pairs (% of a core)|1 process, lo|-" "$st" "$(echo "$l" | field idle_cpu_pct)"
        add "RSS per PeerConnection, $p pairs (KiB)|1 process, lo|-" "$st" "$(echo "$l" | field kib_per_pc)"
      done < <(grep '^RESULT' "$log")
    else
      fail_run "idle $st: see $log"; tail -5 "$log" >&2
    fi
  fi
}

# ---- the runs ----------------------------------------------------------------------
src_desc=$src
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  src_desc="$src ($(git -C "$src" rev-parse --abbrev-ref HEAD) $(git -C "$src" rev-parse --short HEAD)$(git -C "$src" diff --quiet HEAD 2>/dev/null || echo ', with uncommitted changes'))"
fi
echo "bench: libxp2p from $src_desc, release build" >&2
echo "bench: reference: $reference" >&2
echo "bench: conditions $conds; metrics $metrics; $runs runs$([ "$quick" = 1 ] && echo ', quick sizes'); logs in $logs" >&2

for c in ${conds//,/ }; do setup_cond "$c"; done
t_start=$(date +%s)
for i in $(seq 1 "$runs"); do
  for c in ${conds//,/ }; do
    for st in $stacks; do
      echo "run $i/$runs: $c, $st" >&2
      measure "$c" "$st" "$i"
    done
  done
done
for c in ${conds//,/ }; do
  [ -n "${em_pid[$c]:-}" ] && link_stats "$c" >/dev/null && grep '^linkem stats' "$logs/linkem-$c.log" | tail -1 | sed "s/^/bench: $c emulator totals: /" >&2
done

# ---- the table -----------------------------------------------------------------------
stat() {  # KEY STACK: "median (min–max)" or "-"
  local v=${vals[$1|$2]:-}
  [ -n "$v" ] || { echo "-"; return; }
  printf '%s\n' $v | sort -g | awk '{v[NR]=$1} END {
    m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2;
    f = (m >= 100) ? "%.0f" : (m >= 10) ? "%.1f" : (m >= 1) ? "%.2f" : "%.3f";
    printf(f " (" f "–" f ")\n", m, v[1], v[NR]) }'
}
med() { local v=${vals[$1|$2]:-}; [ -n "$v" ] && printf '%s\n' $v | sort -g | awk '{v[NR]=$1} END { print NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }' || echo -; }
elapsed=$(( $(date +%s) - t_start ))
echo
echo "libxp2p: $src_desc"
echo "reference: $reference"
echo "medians of $runs interleaved runs (min–max); $(date -u '+%Y-%m-%d %H:%M UTC'), $((elapsed / 60)) min; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| metric | condition | libxp2p | libdatachannel | ratio |"
echo "|---|---|---|---|---|"
for k in "${keys[@]:-}"; do
  [ -n "$k" ] || continue
  IFS='|' read -r name cond dir <<<"$k"
  a=$(med "$k" "$xp2p_main") b=$(med "$k" ndc)
  ratio=$(awk -v a="$a" -v b="$b" -v d="$dir" 'BEGIN {
    if (a == "-" || b == "-" || a <= 0 || b <= 0) { print "-"; exit }
    printf "%.2f\n", d == "+" ? a / b : b / a }')
  echo "| $name | $cond | $(stat "$k" "$xp2p_main") | $(stat "$k" ndc) | $ratio |"
done
echo
echo "(ratio > 1: libxp2p better; throughput and rate: libxp2p / libdatachannel, the rest: libdatachannel / libxp2p)"
# --dtls with two or more backends: each against the first, same runs.
set -- $dtls_stacks
if [ $# -ge 2 ]; then
  first=$1; shift
  for other in "$@"; do
    echo
    echo "DTLS backends (libxp2p, same runs): ${other#xp2p-} against ${first#xp2p-}"
    echo
    echo "| metric | condition | ${first#xp2p-} | ${other#xp2p-} | ratio |"
    echo "|---|---|---|---|---|"
    for k in "${keys[@]:-}"; do
      [ -n "$k" ] || continue
      IFS='|' read -r name cond dir <<<"$k"
      a=$(med "$k" "$other") b=$(med "$k" "$first")
      ratio=$(awk -v a="$a" -v b="$b" -v d="$dir" 'BEGIN {
        if (a == "-" || b == "-" || a <= 0 || b <= 0) { print "-"; exit }
        printf "%.2f\n", d == "+" ? a / b : b / a }')
      echo "| $name | $cond | $(stat "$k" "$first") | $(stat "$k" "$other") | $ratio |"
    done
    echo
    echo "(ratio > 1: ${other#xp2p-} better; throughput and rate: ${other#xp2p-} / ${first#xp2p-}, the rest: ${first#xp2p-} / ${other#xp2p-})"
  done
fi
echo "per-run values: $(for k in "${keys[@]:-}"; do for st in $stacks; do printf '%s [%s]:%s; ' "${k%|*}" "$st" "${vals[$k|$st]:-}"; done; done)" >"$logs/values.txt"
echo "per-run values: $logs/values.txt"
if [ -s "$failures" ]; then
  echo
  echo "FAILED RUNS ($(wc -l <"$failures")):"
  sed 's/^/  /' "$failures"
  exit 1
fi

#!/usr/bin/env bash
# Runs the network-namespace scenarios of ice_echo (needs root):
#   link     two namespaces, one veth pair
#   nat      two clients behind two masquerading NATs, coturn as STUN server
#   consent  the path dies after the transfer: Failed within 30 s
#   turn     two clients behind two symmetric NATs: only a TURN relay works
#   linkem   the benchmark's link emulator delays and drops as configured
# Usage: tests/netns/run.sh [SCENARIO...]   (default: all five)
#
# Uses the installed package in build/prefix when there is one, otherwise
# builds and installs it (the cmake steps of scripts/c-tests.sh); then builds
# ice_echo against it in build/netns. Ends with "N passed, M failed" and a
# non-zero status when a scenario failed.
#
# Environment: XP2P_BUILD_DIR (default build), XP2P_PREFIX (default
# $XP2P_BUILD_DIR/prefix), XP2P_REBUILD=1 to rebuild and reinstall the
# package first, XP2P_KEEP_LOGS=1 to keep each scenario's logs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${XP2P_BUILD_DIR:-$root/build}
prefix=${XP2P_PREFIX:-$build/prefix}
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(link nat consent turn linkem)

# shellcheck source=tests/lib/package.sh
. "$root/tests/lib/package.sh"

[ "$(id -u)" = 0 ] || give_up "the network-namespace tests need root"
"$here/deps.sh" || give_up "missing tools (tests/netns/deps.sh)"

cd "$root"
build_example ice_echo "$build/netns"
export ICE_ECHO=$build/netns/ice_echo

passed=0
failed=0
for s in "${cases[@]}"; do
  if [ ! -f "$here/$s.sh" ]; then
    echo "FAIL $s: no such scenario"
    failed=$((failed + 1))
    continue
  fi
  start=$(date +%s%N)
  # Each scenario bounds its own waits; this is the backstop (SIGTERM lets
  # its trap clean up).
  # An interrupt of run.sh goes on to the scenario, whose trap cleans up
  # (timeout runs in a process group of its own, out of the terminal's reach).
  timeout -k 10 120 bash "$here/$s.sh" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null; interrupted=1' INT TERM
  rc=0
  wait "$child" || rc=$?
  if [ "${interrupted:-0}" = 1 ]; then
    wait "$child" 2>/dev/null
    echo "run.sh: interrupted during $s"
    failed=$((failed + 1))
    summary "$passed" "$failed"
  fi
  trap - INT TERM
  secs=$((($(date +%s%N) - start) / 1000000))
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
  else
    [ "$rc" = 124 ] && echo "FAIL $s: timed out"
    failed=$((failed + 1))
  fi
  echo "run.sh: $s took $secs ms (exit $rc)"
done
summary "$passed" "$failed"
